package api

import (
	"net/http"
	"os"
	"runtime"

	"github.com/hearthdev/hearth/internal/bootstrap"
)

// agentBinary serves the agent to workspaces' init scripts at /bin/hearth-OS-ARCH: the server's own
// binary for its own platform. Other platforms answer 404 with the reason, which the init script
// prints as it retries.
func agentBinary(path string) http.Handler {
	own := bootstrap.BinaryName(runtime.GOOS, runtime.GOARCH)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file := r.PathValue("file")
		if path == "" || file != own {
			writeProblem(w, &Problem{Status: http.StatusNotFound, Title: "Not Found",
				Detail: "This server has no agent binary " + file + "; it serves " + own + " (its own platform) when run as hearth server."})
			return
		}
		f, err := os.Open(path)
		if err != nil {
			writeProblem(w, &Problem{Status: http.StatusInternalServerError, Title: "Internal Server Error", Detail: "The agent binary cannot be read."})
			errorLog.Load().Error("api: the agent binary cannot be read", "path", path, "error", err)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, file, st.ModTime(), f)
	})
}
