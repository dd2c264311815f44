// Package connect is the client side of connections to workspaces: it finds a workspace's agent,
// opens a connection to it through the control plane (an HTTP upgrade of connect-workspace-agent, which
// any server replica relays to the agent's tunnel), and runs SSH sessions over it. The CLI's ssh,
// config-ssh and port-forward commands are built on it.
package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/cliconfig"
	"github.com/hearthdev/hearth/internal/hub"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// Target is a workspace agent to connect to.
type Target struct {
	Owner, Workspace, Agent string
	AgentID                 string
	// AgentStatus is the agent's status when it was resolved (connecting, connected, …).
	AgentStatus string
}

// Parse reads [OWNER/]WORKSPACE[.AGENT]; a trailing ".hearth" (the config-ssh host suffix) is dropped.
func Parse(ref string) (Target, error) {
	ref = strings.TrimSuffix(ref, ".hearth")
	t := Target{Owner: "me"}
	if owner, rest, ok := strings.Cut(ref, "/"); ok {
		t.Owner, ref = owner, rest
	}
	t.Workspace, t.Agent, _ = strings.Cut(ref, ".")
	if t.Workspace == "" || t.Owner == "" {
		return t, fmt.Errorf("%q: want [OWNER/]WORKSPACE[.AGENT]", ref)
	}
	return t, nil
}

// Resolve finds the target's agent, and says clearly why there is none to connect to.
func Resolve(ctx context.Context, c *client.ClientWithResponses, t Target) (Target, error) {
	res, err := c.GetWorkspaceByOwnerAndNameWithResponse(ctx, t.Owner, t.Workspace)
	if err != nil {
		return t, err
	}
	if err := client.Check(res.HTTPResponse, res.Body); err != nil {
		return t, err
	}
	w := res.JSON200
	var agents []client.WorkspaceAgent
	for _, r := range w.LatestBuild.Resources {
		agents = append(agents, r.Agents...)
	}
	if w.Status != "running" {
		return t, fmt.Errorf("workspace %s is %s, not running", w.Name, w.Status)
	}
	var names []string
	for _, a := range agents {
		names = append(names, a.Name)
		if t.Agent == "" && len(agents) == 1 || a.Name == t.Agent {
			t.AgentID, t.Agent, t.AgentStatus = a.Id, a.Name, string(a.Status)
		}
	}
	switch {
	case len(agents) == 0:
		return t, fmt.Errorf("workspace %s has no agent", w.Name)
	case t.AgentID == "" && t.Agent == "":
		return t, fmt.Errorf("workspace %s has several agents (%s): name one as %s.AGENT", w.Name, strings.Join(names, ", "), w.Name)
	case t.AgentID == "":
		return t, fmt.Errorf("workspace %s has no agent %q (it has %s)", w.Name, t.Agent, strings.Join(names, ", "))
	}
	return t, nil
}

// Dial opens a connection to an agent: kind "ssh" reaches its SSH server, "tcp" a port on the
// workspace's loopback. When a workspace proxy holds the agent's tunnel, the connection goes through
// the proxy with a connection ticket, not through the control plane; if the proxy cannot be reached,
// through the control plane (which relays to the proxy).
func Dial(ctx context.Context, s cliconfig.Session, agentID, kind string, port int) (net.Conn, error) {
	if c, err := client.Dial(s.URL, s.Token, "cli"); err == nil {
		res, err := c.CreateConnectionTicketWithResponse(ctx, agentID)
		if err == nil && res.JSON200 != nil && res.JSON200.ProxyUrl != "" {
			if conn, err := dial(ctx, res.JSON200.ProxyUrl, agentID, kind, port, http.Header{hub.ConnectionTicketHeader: {res.JSON200.Ticket}}); err == nil {
				return conn, nil
			}
		}
	}
	return dial(ctx, s.URL, agentID, kind, port, http.Header{"Authorization": {"Bearer " + s.Token}})
}

// dial opens the connection at base (the control plane or a proxy) with the credentials in auth.
func dial(ctx context.Context, base, agentID, kind string, port int, auth http.Header) (net.Conn, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/api/v2/workspaceagents/" + url.PathEscape(agentID) + "/connect")
	if err != nil {
		return nil, err
	}
	q := url.Values{"kind": {kind}}
	if port > 0 {
		q.Set("port", strconv.Itoa(port))
	}
	u.RawQuery = q.Encode()
	auth.Set("User-Agent", "hearth-cli/"+buildinfo.Version())
	c, res, err := tunnel.Dial(ctx, u.String(), auth)
	if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		_ = res.Body.Close()
		e := client.Check(res, body)
		var p struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(body, &p) == nil && p.Detail != "" {
			return nil, errors.New(p.Detail)
		}
		return nil, e
	}
	if err != nil {
		return nil, fmt.Errorf("reach %s: %w", base, err)
	}
	return c, nil
}
