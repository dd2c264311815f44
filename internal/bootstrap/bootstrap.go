// Package bootstrap makes the init scripts that start an agent inside a workspace. Templates run them
// as coder_agent.init_script: the coder/coder provider takes the script for the agent's OS and
// architecture from CODER_AGENT_SCRIPT_<os>_<arch>, which the provisioner worker sets, and fills in
// ${ACCESS_URL} and ${AUTH_TYPE}. The script downloads the server's own binary from
// ${ACCESS_URL}bin/hearth-<os>-<arch> and runs `hearth agent`, which finds its token in
// CODER_AGENT_TOKEN (as Coder templates set it) or HEARTH_AGENT_TOKEN.
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
// server may be restarting), with curl or wget, whichever exists.
func Script(os, arch string) string {
	return strings.ReplaceAll(script, "@BINARY@", BinaryName(os, arch))
}

const script = `#!/usr/bin/env sh
# Starts the Hearth agent: downloads it from the control plane, then runs it.
set -eu
BINARY_URL="${ACCESS_URL}bin/@BINARY@"
BINARY_DIR="${HEARTH_AGENT_BINARY_DIR:-$(mktemp -d -t hearth.XXXXXX)}"
mkdir -p "$BINARY_DIR"
cd "$BINARY_DIR"
attempt=0
until
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --connect-timeout 5 "$BINARY_URL" -o hearth.download
	elif command -v wget >/dev/null 2>&1; then
		wget -q -T 5 "$BINARY_URL" -O hearth.download
	else
		echo "hearth: neither curl nor wget is installed: cannot download the agent" >&2
		exit 1
	fi
do
	attempt=$((attempt + 1))
	if [ "$attempt" -ge 60 ]; then
		echo "hearth: could not download the agent from $BINARY_URL" >&2
		exit 1
	fi
	echo "hearth: downloading the agent from $BINARY_URL failed; retrying in 5 s" >&2
	sleep 5
done
chmod +x hearth.download
mv hearth.download hearth
# A workspace proxy's URL, when the template points its agents at one, wins over the server's.
export HEARTH_AGENT_URL="${HEARTH_AGENT_URL:-${ACCESS_URL}}"
export HEARTH_AGENT_AUTH="${AUTH_TYPE}"
exec ./hearth agent
`
