package server

import (
	"log/slog"
	"os"
	"path/filepath"
)

// findAgentBinary is the file served to workspaces as their agent: the configured one, else
// hearth-agent beside the server's binary (as `go tool task build` and the release images place it),
// else the server's own binary, which also runs as an agent but is several times larger to download.
func findAgentBinary(configured string, log *slog.Logger) string {
	if configured != "" {
		if _, err := os.Stat(configured); err != nil {
			log.Warn("the agent binary cannot be read: workspaces cannot download their agent until it can", "path", configured, "error", err)
		}
		return configured
	}
	self, err := os.Executable()
	if err != nil {
		log.Warn("the server's own binary cannot be found: workspaces cannot download their agent", "error", err)
		return ""
	}
	beside := filepath.Join(filepath.Dir(self), "hearth-agent")
	if st, err := os.Stat(beside); err == nil && st.Mode().IsRegular() {
		return beside
	}
	log.Info("no hearth-agent beside the server: workspaces download the server's own binary as their agent "+
		"(build hearth-agent with go tool task build, or pass --agent-binary)", "path", self)
	return self
}
