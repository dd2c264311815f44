package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// tunnelLoop keeps the tunnel up: after any error it reconnects with backoff (500 ms doubling to
// 30 s, back to 500 ms once a tunnel was up).
func (a *agent) tunnelLoop(ctx context.Context) {
	b := newBackoff()
	for ctx.Err() == nil {
		up, err := a.serveTunnel(ctx)
		if ctx.Err() != nil {
			return
		}
		if up {
			b.reset()
		}
		a.cfg.Logger.Warn("agent: the tunnel is down; reconnecting", "error", err, "in", b.d)
		if !b.wait(ctx) {
			return
		}
	}
}

// serveTunnel connects and serves streams until the tunnel breaks; up says whether it connected.
func (a *agent) serveTunnel(ctx context.Context) (up bool, err error) {
	u, err := url.Parse(strings.TrimSuffix(a.cfg.URL, "/") + "/api/v2/workspaceagents/me/tunnel")
	if err != nil {
		return false, fmt.Errorf("agent: %w", err)
	}
	u.RawQuery = url.Values{"version": {buildinfo.Version()}}.Encode()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPHeader: http.Header{ //nolint:bodyclose // websocket.Dial closes it
		"Hearth-Agent-Token": {a.currentToken()}, "User-Agent": {"hearth-agent/" + buildinfo.Version()}}})
	if err != nil {
		if res != nil && res.StatusCode == http.StatusUnauthorized {
			return false, errors.New("the control plane refused the agent token (401)")
		}
		return false, fmt.Errorf("dial: %w", err)
	}
	c.SetReadLimit(-1)
	conn := websocket.NetConn(ctx, c, websocket.MessageBinary)
	session, err := yamux.Server(conn, tunnel.Config())
	if err != nil {
		_ = conn.Close()
		return false, fmt.Errorf("agent: %w", err)
	}
	defer func() { _ = session.Close() }()
	a.cfg.Logger.Info("agent: tunnel connected")
	for {
		st, err := session.AcceptStream()
		if err != nil {
			return true, err
		}
		go a.handleStream(ctx, st, true)
	}
}

// handleStream reads a stream's header and serves what it asks for. A stream comes through the
// tunnel (from the control plane) or to the agent's tailnet port (from a replica's node, or a
// client's); only the control plane may hand the agent a new token.
func (a *agent) handleStream(ctx context.Context, st net.Conn, fromControlPlane bool) {
	_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h tunnel.Header
	if err := tunnel.Read(st, &h); err != nil {
		_ = st.Close()
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	a.stats.total.Add(1)
	conn := &counted{Conn: st, stats: &a.stats}
	switch h.Kind {
	case tunnel.KindSSH:
		if tunnel.Write(st, tunnel.Reply{}) != nil {
			_ = st.Close()
			return
		}
		a.serveSSH(conn)
	case tunnel.KindTCP:
		a.stats.sessionsTCP.Add(1)
		defer a.stats.sessionsTCP.Add(-1)
		d := net.Dialer{Timeout: 10 * time.Second}
		target, err := d.DialContext(ctx, "tcp", h.Addr)
		if err != nil {
			_ = tunnel.Write(st, tunnel.Reply{Error: "nothing answers at " + h.Addr + " in the workspace: " + errText(err)})
			_ = st.Close()
			return
		}
		if tunnel.Write(st, tunnel.Reply{}) != nil {
			_ = st.Close()
			_ = target.Close()
			return
		}
		tunnel.Pipe(conn, target)
	case tunnel.KindReinit:
		if !fromControlPlane {
			_ = tunnel.Write(st, tunnel.Reply{Error: "a reinit stream comes only through the tunnel"})
			_ = st.Close()
			return
		}
		a.reinit(ctx, st, h.Token)
	case tunnel.KindPTY:
		if h.PTY == nil {
			_ = tunnel.Write(st, tunnel.Reply{Error: "a pty stream needs its terminal"})
			_ = st.Close()
			return
		}
		a.ptys.attach(conn, *h.PTY)
	default:
		_ = tunnel.Write(st, tunnel.Reply{Error: "unknown stream kind " + h.Kind})
		_ = st.Close()
	}
}

// errText is an error's last part (dial tcp 127.0.0.1:1: connect: connection refused -> connection refused).
func errText(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// counted is a stream that counts its bytes into the agent's statistics.
type counted struct {
	net.Conn
	stats *stats
}

func (c *counted) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.stats.rx.Add(int64(n))
	return n, err
}

func (c *counted) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.stats.tx.Add(int64(n))
	return n, err
}

// CloseWrite half-closes the stream: a TCP connection's CloseWrite, a yamux stream's Close (which
// sends FIN and keeps reading).
func (c *counted) CloseWrite() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}

// reinit takes the new token the server hands a claimed prebuild's agent, then the manifest of its
// new owner's workspace: sessions from now on get its environment. Nothing restarts.
func (a *agent) reinit(ctx context.Context, st io.ReadWriteCloser, token string) {
	defer func() { _ = st.Close() }()
	if token == "" {
		_ = tunnel.Write(st, tunnel.Reply{Error: "a reinit stream needs the new token"})
		return
	}
	old := a.currentToken()
	a.token.Store(&token)
	res, err := a.api.GetWorkspaceAgentManifestWithResponse(ctx, &client.GetWorkspaceAgentManifestParams{})
	if err != nil || res.JSON200 == nil {
		a.token.Store(&old)
		msg := "the manifest could not be fetched with the new token"
		if err != nil {
			msg += ": " + err.Error()
		}
		_ = tunnel.Write(st, tunnel.Reply{Error: msg})
		return
	}
	env := sessionEnv(*res.JSON200)
	a.env.Store(&env)
	a.cfg.Logger.Info("agent: claimed: now the workspace of its new owner", "workspace", res.JSON200.WorkspaceName, "owner", res.JSON200.OwnerName)
	_ = tunnel.Write(st, tunnel.Reply{})
}
