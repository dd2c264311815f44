package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/hearthdev/hearth/internal/client"
)

// Config configures an agent.
type Config struct {
	// URL is the control plane's access URL; Token the agent's token from its build.
	URL   string
	Token string
	// Ready, when set, is called once the agent has its manifest.
	Ready  func(client.WorkspaceManifest)
	Logger *slog.Logger
}

// Run authenticates with the agent's token, fetches its manifest (retrying with backoff: the agent
// usually starts while its build is still applying, before the server knows its token), prepares
// its directory, and then runs until ctx ends. SSH, terminals, apps, scripts and metadata come with
// the tunnel (see the package documentation).
func Run(ctx context.Context, cfg Config) error {
	if cfg.Token == "" {
		return errors.New("agent: no token: set CODER_AGENT_TOKEN or HEARTH_AGENT_TOKEN")
	}
	c, err := client.Dial(cfg.URL, "", "agent")
	if err != nil {
		return err
	}
	backoff := 500 * time.Millisecond
	var m *client.WorkspaceManifest
	for m == nil {
		res, err := c.GetWorkspaceAgentManifestWithResponse(ctx, &client.GetWorkspaceAgentManifestParams{HearthAgentToken: &cfg.Token})
		switch {
		case ctx.Err() != nil:
			return nil //nolint:nilerr // stopped while waiting
		case err != nil:
			cfg.Logger.Warn("agent: cannot reach the control plane; retrying", "error", err, "in", backoff)
		case res.StatusCode() == http.StatusUnauthorized:
			cfg.Logger.Info("agent: the token is not accepted yet (the build may still be running); retrying", "in", backoff)
		case res.JSON200 != nil:
			m = res.JSON200
			continue
		default:
			cfg.Logger.Warn("agent: the manifest could not be fetched; retrying", "error", client.Check(res.HTTPResponse, res.Body), "in", backoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	if m.Directory != "" {
		if err := os.MkdirAll(os.ExpandEnv(m.Directory), 0o755); err != nil { //nolint:gosec // the workspace's own directory
			cfg.Logger.Warn("agent: cannot make the directory", "directory", m.Directory, "error", err)
		}
	}
	cfg.Logger.Info("agent: ready", "agent", m.AgentName, "workspace", m.WorkspaceName, "agent_id", m.AgentId)
	if cfg.Ready != nil {
		cfg.Ready(*m)
	}
	<-ctx.Done()
	cfg.Logger.Info("agent: stopping")
	return nil
}
