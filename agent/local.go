package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hearthdev/hearth/client"
)

// SocketEnv names the agent's local socket in sessions and scripts: the in-workspace coder command
// asks the agent there for what needs its token (external auth tokens), so the token itself never
// enters a session's environment.
const SocketEnv = "HEARTH_AGENT_SOCKET"

// socketPath is where the agent's local socket is: in the temporary directory, one per agent (not
// among the scripts' data directories, which are the scripts' own).
func socketPath(m client.WorkspaceManifest) string {
	return filepath.Join(os.TempDir(), "hearth-agent-"+m.AgentId+".sock")
}

// serveLocal answers the in-workspace coder command on a Unix socket only the workspace's user
// can open, until ctx ends.
func (a *agent) serveLocal(ctx context.Context, path string) {
	_ = os.Remove(path) // an earlier agent's
	ln, err := (&net.ListenConfig{}).Listen(ctx, "unix", path)
	if err != nil {
		a.cfg.Logger.Warn("agent: cannot open the local socket: coder external-auth and Git credentials will not work", "path", path, "error", err)
		return
	}
	_ = os.Chmod(path, 0o600)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /external-auth", a.localExternalAuth)
	mux.HandleFunc("GET /gitsshkey", a.localGitSSHKey)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.cfg.Logger.Warn("agent: the local socket stopped", "error", err)
	}
}

// LocalError is the local socket's answer when there is nothing to give: what to do, for a person.
type LocalError struct {
	Message string `json:"message"`
}

// localExternalAuth passes a request for the owner's external auth token (by id or Git URL) to the
// server, answering its token or its message.
func (a *agent) localExternalAuth(w http.ResponseWriter, r *http.Request) {
	params := &client.GetWorkspaceAgentExternalAuthParams{}
	if id := r.URL.Query().Get("id"); id != "" {
		params.Id = &id
	}
	if u := r.URL.Query().Get("url"); u != "" {
		params.Url = &u
	}
	res, err := a.api.GetWorkspaceAgentExternalAuthWithResponse(r.Context(), params)
	if err != nil {
		answerLocal(w, 0, nil, nil, err)
		return
	}
	answerLocal(w, res.StatusCode(), res.Body, res.JSON200, nil)
}

// localGitSSHKey passes on the owner's Git SSH key pair, for coder gitssh.
func (a *agent) localGitSSHKey(w http.ResponseWriter, r *http.Request) {
	res, err := a.api.GetWorkspaceAgentGitsshkeyWithResponse(r.Context(), &client.GetWorkspaceAgentGitsshkeyParams{})
	if err != nil {
		answerLocal(w, 0, nil, nil, err)
		return
	}
	answerLocal(w, res.StatusCode(), res.Body, res.JSON200, nil)
}

// answerLocal answers the coder command with the server's answer: ok when the server said 200, else
// a LocalError with the server's problem detail (or its status), or why the server was not reached.
func answerLocal(w http.ResponseWriter, status int, body []byte, ok any, err error) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case err != nil:
		w.WriteHeader(http.StatusBadGateway)
		_ = json.NewEncoder(w).Encode(LocalError{Message: "the Hearth server cannot be reached: " + err.Error()})
	case status == http.StatusOK:
		_ = json.NewEncoder(w).Encode(ok)
	default:
		msg := "the Hearth server answered " + http.StatusText(status)
		var p client.Problem
		if json.Unmarshal(body, &p) == nil && p.Detail != nil {
			msg = *p.Detail
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(LocalError{Message: msg})
	}
}
