#!/usr/bin/env bash
# Builds the providers listed in versions into a Terraform filesystem mirror (the first argument),
# for registry.terraform.io and registry.opentofu.org, statically linked (as the registries' builds
# are: the provisioner image has no C library). A provider already in the mirror at its version, so
# built, is not built again; Go's build cache makes a rebuild after a change cheap too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=${1:?usage: build.sh MIRROR}
platform="$(go env GOOS)_$(go env GOARCH)"
build="$here/../.cache/provider-build"
mkdir -p "$build"
grep -v '^\s*\(#\|$\)' "$here/versions" | while read -r address version dir; do
	type=${address#*/}
	binary="terraform-provider-${type}_v${version}"
	placed=yes
	for host in registry.terraform.io registry.opentofu.org; do
		placed_binary="$mirror/$host/$address/$version/$platform/$binary"
		[ -x "$placed_binary" ] && go version -m "$placed_binary" | grep -q 'CGO_ENABLED=0' || placed=no
	done
	[ "$placed" = yes ] && continue
	echo "providers: building $address $version (from providers/$dir)"
	pkg=$(sed -n "s/^tool //p" "$here/$dir/go.mod")
	(cd "$here/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$build/$binary" "$pkg")
	for host in registry.terraform.io registry.opentofu.org; do
		dir_out="$mirror/$host/$address/$version/$platform"
		mkdir -p "$dir_out" && ln -f "$build/$binary" "$dir_out/$binary.tmp" 2>/dev/null || cp "$build/$binary" "$dir_out/$binary.tmp"
		mv "$dir_out/$binary.tmp" "$dir_out/$binary"
	done
done
