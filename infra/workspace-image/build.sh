#!/usr/bin/env bash
# Builds the workspace base image hearth-workspace:bookworm from Debian's packages, without a
# container registry: debootstrap makes a minimal Debian 12 root file system, which gets a non-root
# `coder` user (passwordless sudo, home /home/coder) and is imported with `docker import`.
# The root file system is cached under .cache/workspace-image; the image is not rebuilt while it
# exists (pass --force to rebuild).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="$here/../../.cache/workspace-image"
image=${HEARTH_WORKSPACE_IMAGE:-hearth-workspace:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=sudo,curl,git,ca-certificates,procps,less,openssh-client,locales

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	echo "workspace-image: no Docker engine answers; start one first (go tool task docker:start)" >&2
	exit 1
fi
if [ "${1:-}" != --force ] && docker image inspect "$image" >/dev/null 2>&1; then
	exit 0
fi
if ! command -v debootstrap >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
fi
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
rootfs="$cache/rootfs"
if [ ! -f "$cache/rootfs.done" ] || [ "${1:-}" = --force ]; then
	rm -rf "$rootfs" "$cache/rootfs.done"
	mkdir -p "$cache"
	echo "workspace-image: debootstrap bookworm into $rootfs"
	debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log"; exit 1; }
	chroot "$rootfs" /bin/sh -euc '
		useradd --create-home --shell /bin/bash --uid 1000 coder
		echo "coder ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/coder
		chmod 0440 /etc/sudoers.d/coder
		apt-get clean
		rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/*'
	touch "$cache/rootfs.done"
fi
echo "workspace-image: importing $image"
tar --numeric-owner -C "$rootfs" -c . | docker import \
	--change 'USER coder' --change 'WORKDIR /home/coder' --change 'ENV LANG=C.UTF-8' \
	--change 'CMD ["/bin/bash"]' --message "Hearth workspace base image (Debian 12, minbase)" - "$image" >/dev/null
docker image inspect "$image" --format 'workspace-image: {{.RepoTags}} {{.Size}} bytes'
