package provisioner

import (
	"fmt"
	"regexp"
)

// hints turn the errors of common dead dependencies, as providers word them, into what is wrong and
// what to do, put before the provider's own words.
var hints = []struct {
	re   *regexp.Regexp
	hint func(m []string) string
}{
	{regexp.MustCompile(`Cannot connect to the Docker daemon at (\S+?)\.? Is the docker daemon running`), func(m []string) string {
		return fmt.Sprintf("cannot reach Docker at %s: start the engine there, or point the template's Docker host at one that runs", m[1])
	}},
	{regexp.MustCompile(`please make sure that (\S+) is reachable`), func(m []string) string {
		return fmt.Sprintf("cannot reach Docker at %s: start the engine there, or point the template's Docker host at one that runs", m[1])
	}},
	{regexp.MustCompile(`did not find docker image '([^']+)'`), func(m []string) string {
		return fmt.Sprintf("image %s not found on this host; build it (go tool task workspace-image builds hearth-workspace:bookworm) "+
			"or choose an image the Docker host has (docker images lists them)", m[1])
	}},
	{regexp.MustCompile(`The container name "/?([^"]+)" is already in use`), func(m []string) string {
		return fmt.Sprintf("a container named %s already exists on the Docker host (left by another workspace or by hand): "+
			"remove it (docker rm -f %s) and build again", m[1], m[1])
	}},
	{regexp.MustCompile(`volume is in use`), func([]string) string {
		return "the volume is in use by a container that is not this workspace's: stop that container, then build again"
	}},
}

// hint is what the first matching hint says of why, or "".
func hint(why string) string {
	for _, h := range hints {
		if m := h.re.FindStringSubmatch(why); m != nil {
			return h.hint(m)
		}
	}
	return ""
}
