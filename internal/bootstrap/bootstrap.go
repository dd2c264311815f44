// Package bootstrap makes the init scripts that start an agent inside a workspace. Templates run them
// as coder_agent.init_script: the coder/coder provider takes the script for the agent's OS and
// architecture from CODER_AGENT_SCRIPT_<os>_<arch>, which the provisioner worker sets, and fills in
// ${ACCESS_URL} and ${AUTH_TYPE}. The script downloads the agent (hearth-agent, or the server's own
// binary when it has no other) from ${ACCESS_URL}bin/hearth-agent-<os>-<arch> into a cache, sending
// the cached copy's ETag so that an unchanged agent is not downloaded again, and runs it; the agent
// finds its token in CODER_AGENT_TOKEN (as Coder templates set it) or HEARTH_AGENT_TOKEN.
package bootstrap

import (
	"fmt"
	"strings"
)

// Platforms are the OS and architecture pairs templates may name; an agent starts on those the
// server has a binary for.
var Platforms = [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}

// BinaryName is the file a platform's agent binary is served as, under /bin/.
func BinaryName(os, arch string) string {
	return fmt.Sprintf("hearth-agent-%s-%s", os, arch)
}

// OldBinaryName is the name init scripts of earlier releases download, still served (a container
// restarted from an old build runs its old script).
func OldBinaryName(os, arch string) string {
	return fmt.Sprintf("hearth-%s-%s", os, arch)
}

// Env is the environment of every build: one init script per platform.
func Env() map[string]string {
	env := make(map[string]string, len(Platforms))
	for _, p := range Platforms {
		env["CODER_AGENT_SCRIPT_"+p[0]+"_"+p[1]] = Script(p[0], p[1])
	}
	return env
}

// Script is the init script for one platform. It retries the download for about five minutes (the
// server may be restarting), with curl or wget, whichever exists. The cache is HEARTH_AGENT_BINARY_DIR,
// else $XDG_CACHE_HOME/hearth-agent or ~/.cache/hearth-agent (a workspace's home volume keeps it across
// restarts), else a new temporary directory.
func Script(os, arch string) string {
	return strings.ReplaceAll(script, "@BINARY@", BinaryName(os, arch))
}

const script = `#!/usr/bin/env sh
# Starts the Hearth agent: downloads it from the control plane (unless the cached copy is current),
# then runs it.
set -eu
BINARY_URL="${ACCESS_URL}bin/@BINARY@"
BINARY_DIR="${HEARTH_AGENT_BINARY_DIR:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/hearth-agent}"
if ! mkdir -p "$BINARY_DIR" 2>/dev/null || [ ! -w "$BINARY_DIR" ]; then
	BINARY_DIR=$(mktemp -d -t hearth.XXXXXX)
fi
cd "$BINARY_DIR"
part="hearth-agent.download.$$"
trap 'rm -f "$part" "$part.headers"' EXIT
fetch() {
	if command -v curl >/dev/null 2>&1; then
		if [ -x hearth-agent ] && [ -s hearth-agent.etag ]; then
			set -- -H "If-None-Match: $(cat hearth-agent.etag)"
		else
			set --
		fi
		code=$(curl -sSL --compressed --connect-timeout 5 "$@" -D "$part.headers" -o "$part" -w '%{http_code}' "$BINARY_URL") || return 1
		case "$code" in
		304) return 0 ;;
		200) ;;
		*)
			echo "hearth: $BINARY_URL answered $code: $(head -c 300 "$part" 2>/dev/null)" >&2
			return 1
			;;
		esac
		sed -n 's/^[Ee][Tt][Aa][Gg]:[[:space:]]*//p' "$part.headers" | tr -d '\r' >"$part.etag"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -T 5 "$BINARY_URL" -O "$part" || return 1
		: >"$part.etag"
	else
		echo "hearth: neither curl nor wget is installed: cannot download the agent" >&2
		exit 1
	fi
	chmod +x "$part"
	mv "$part" hearth-agent
	mv "$part.etag" hearth-agent.etag
}
attempt=0
until fetch; do
	attempt=$((attempt + 1))
	if [ "$attempt" -ge 60 ]; then
		echo "hearth: could not download the agent from $BINARY_URL" >&2
		exit 1
	fi
	echo "hearth: downloading the agent from $BINARY_URL failed; retrying in 5 s" >&2
	sleep 5
done
rm -f "$part" "$part.headers" "$part.etag"
# A workspace proxy's URL, when the template points its agents at one, wins over the server's.
export HEARTH_AGENT_URL="${HEARTH_AGENT_URL:-${ACCESS_URL}}"
export HEARTH_AGENT_AUTH="${AUTH_TYPE}"
exec ./hearth-agent agent
`
