package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/gliderlabs/ssh"
	"github.com/hashicorp/yamux"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// simAgent is a workspace agent simulated in the harness: it speaks the real agent protocol
// (manifest, lifecycle, startup logs, the tunnel, metadata every interval) but runs no scripts and
// answers streams itself: SSH sessions echo, the echo app answers HTTP, terminals echo input.
type simAgent struct {
	// id is the agent's ID, from its manifest.
	id    string
	token string
	api   *client.ClientWithResponses
	base  string
	rec   *recorder
	// up is true while the tunnel is connected; drops counts tunnels lost while running.
	up    atomic.Bool
	drops atomic.Int64
	// tailnet makes the agent coordinate a WireGuard node too; tailnetUp is true while it does.
	tailnet   bool
	tailnetUp atomic.Bool
	keys      []string
	// cancel and done stop a launched agent and tell when it has stopped.
	cancel context.CancelFunc
	done   chan struct{}
}

// launch runs the agent (run) in wg until ctx ends or stop.
func (a *simAgent) launch(ctx context.Context, wg *sync.WaitGroup, interval time.Duration) {
	ctx, a.cancel = context.WithCancel(ctx)
	a.done = make(chan struct{})
	wg.Go(func() {
		defer close(a.done)
		a.run(ctx, interval)
	})
}

// stop stops a launched agent, as its workspace stopping does, and waits until it has.
func (a *simAgent) stop() {
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
}

func newSimAgent(base, token string, hc *http.Client, rec *recorder) (*simAgent, error) {
	api, err := client.NewClientWithResponses(base, client.WithHTTPClient(hc),
		client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("User-Agent", "hearth-scaletest-agent")
			r.Header.Set("Hearth-Agent-Token", token)
			return nil
		}))
	if err != nil {
		return nil, err
	}
	return &simAgent{token: token, api: api, base: base, rec: rec}, nil
}

// start fetches the manifest, reports starting, uploads startup logs and reports ready; then run
// keeps the tunnel and the metadata going until ctx ends.
func (a *simAgent) start(ctx context.Context) error {
	var m *client.WorkspaceManifest
	err := a.rec.time("agent.manifest", func() error {
		res, err := a.api.GetWorkspaceAgentManifestWithResponse(ctx, &client.GetWorkspaceAgentManifestParams{})
		if err != nil {
			return err
		}
		if err := client.Check(res.HTTPResponse, res.Body); err != nil {
			return err
		}
		m = res.JSON200
		return nil
	})
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	a.id = m.AgentId
	for _, md := range m.Metadata {
		a.keys = append(a.keys, md.Key)
	}
	if err := a.lifecycle(ctx, client.LifecycleInputBodyStateStarting); err != nil {
		return err
	}
	logs := make([]client.WorkspaceAgentLog, 0, 20)
	for i := range 20 {
		logs = append(logs, client.WorkspaceAgentLog{CreatedAt: time.Now(), Output: fmt.Sprintf("startup: step %d of 20", i+1), Level: "info", Source: "startup"})
	}
	if err := a.rec.time("agent.logs", func() error {
		res, err := a.api.UploadWorkspaceAgentLogsWithResponse(ctx, &client.UploadWorkspaceAgentLogsParams{}, client.UploadWorkspaceAgentLogsJSONRequestBody{Logs: logs})
		if err != nil {
			return err
		}
		return client.Check(res.HTTPResponse, res.Body)
	}); err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	return a.lifecycle(ctx, client.LifecycleInputBodyStateReady)
}

func (a *simAgent) lifecycle(ctx context.Context, state client.LifecycleInputBodyState) error {
	return a.rec.time("agent.lifecycle", func() error {
		res, err := a.api.ReportWorkspaceAgentLifecycleWithResponse(ctx, &client.ReportWorkspaceAgentLifecycleParams{},
			client.ReportWorkspaceAgentLifecycleJSONRequestBody{State: state})
		if err != nil {
			return err
		}
		return client.Check(res.HTTPResponse, res.Body)
	})
}

// run keeps the tunnel up (reconnecting after a second) and reports metadata every interval, the
// first report at a random point of the first interval so agents do not report in lockstep.
func (a *simAgent) run(ctx context.Context, interval time.Duration) {
	var wg sync.WaitGroup
	if a.tailnet {
		wg.Go(func() { a.coordinate(ctx) })
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			err := a.serveTunnel(ctx)
			if ctx.Err() != nil {
				return
			}
			a.rec.fail("agent.tunnel", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	})
	wg.Go(func() {
		t := time.NewTimer(rand.N(interval)) //nolint:gosec // jitter
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			t.Reset(interval)
			items := make([]client.WorkspaceMetadataValue, 0, len(a.keys))
			for _, k := range a.keys {
				items = append(items, client.WorkspaceMetadataValue{Key: k, Value: fmt.Sprintf("%.2f", rand.Float64()*4), CollectedAt: time.Now()}) //nolint:gosec // a made-up value
			}
			_ = a.rec.time("agent.metadata", func() error {
				res, err := a.api.ReportWorkspaceAgentMetadataWithResponse(ctx, &client.ReportWorkspaceAgentMetadataParams{},
					client.ReportWorkspaceAgentMetadataJSONRequestBody{Items: items})
				if err == nil {
					err = client.Check(res.HTTPResponse, res.Body)
				}
				if ctx.Err() != nil {
					err = nil // the run ended during the request
				}
				return err
			})
		}
	})
	wg.Wait()
}

func (a *simAgent) serveTunnel(ctx context.Context) error {
	u := strings.TrimSuffix(a.base, "/") + "/api/v2/workspaceagents/me/tunnel?" + url.Values{"version": {"scaletest"}}.Encode()
	var c *websocket.Conn
	err := a.rec.time("agent.tunnel-connect", func() error {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var err error
		c, _, err = websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Hearth-Agent-Token": {a.token}}}) //nolint:bodyclose // websocket.Dial closes it
		return err
	})
	if err != nil {
		return err
	}
	c.SetReadLimit(-1)
	conn := websocket.NetConn(ctx, c, websocket.MessageBinary)
	session, err := yamux.Server(conn, tunnel.Config())
	if err != nil {
		_ = conn.Close()
		return err
	}
	defer func() { _ = session.Close() }()
	a.up.Store(true)
	defer a.up.Store(false)
	for {
		st, err := session.AcceptStream()
		if err != nil {
			if ctx.Err() == nil {
				a.drops.Add(1)
			}
			return fmt.Errorf("tunnel lost: %w", err)
		}
		go a.serveStream(st)
	}
}

func (a *simAgent) serveStream(st *yamux.Stream) {
	defer func() { _ = st.Close() }()
	var h tunnel.Header
	if err := tunnel.Read(st, &h); err != nil {
		return
	}
	switch {
	case h.Kind == tunnel.KindSSH:
		if tunnel.Write(st, tunnel.Reply{}) == nil {
			echoSSH.HandleConn(st)
		}
	case h.Kind == tunnel.KindTCP && h.Addr == "127.0.0.1:8080":
		if tunnel.Write(st, tunnel.Reply{}) == nil {
			serveOne(st, echoApp)
		}
	case h.Kind == tunnel.KindPTY:
		if tunnel.Write(st, tunnel.Reply{}) != nil {
			return
		}
		for {
			var in tunnel.PTYInput
			if tunnel.Read(st, &in) != nil {
				return
			}
			if _, err := io.WriteString(st, in.Data); err != nil {
				return
			}
		}
	default:
		_ = tunnel.Write(st, tunnel.Reply{Error: "nothing answers at " + h.Addr + " in the simulated workspace"})
	}
}

// echoSSH answers SSH sessions without a shell: a command "echo ARGS" prints ARGS, anything else is
// printed back; a session without a command echoes its input.
var echoSSH = &ssh.Server{Handler: func(s ssh.Session) {
	if s.RawCommand() == "" {
		_, _ = io.Copy(s, s)
		return
	}
	out, _ := strings.CutPrefix(s.RawCommand(), "echo ")
	_, _ = io.WriteString(s, out+"\n")
	_ = s.Exit(0)
}}

// The simulated agents' SSH host key, made at start as a real agent's is.
func init() {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic(err)
	}
	signer, err := gossh.NewSignerFromKey(key)
	if err != nil {
		panic(err)
	}
	echoSSH.AddHostKey(signer)
	// Serve would set these; HandleConn, which the agents call on each stream, does not.
	echoSSH.ChannelHandlers = map[string]ssh.ChannelHandler{"session": ssh.DefaultSessionHandler}
}

// echoApp is the simulated workspace's web app.
var echoApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "echo "+r.URL.Path+"\n")
})

// serveOne serves HTTP on one connection until it closes.
func serveOne(c net.Conn, h http.Handler) {
	l := &oneConn{c: c, done: make(chan struct{})}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed || s == http.StateHijacked {
			l.close()
		}
	}}
	_ = srv.Serve(l)
}

// oneConn is a listener that accepts one connection, then waits for it to close.
type oneConn struct {
	c      net.Conn
	taken  bool
	done   chan struct{}
	closed sync.Once
}

func (l *oneConn) Accept() (net.Conn, error) {
	if !l.taken {
		l.taken = true
		return l.c, nil
	}
	<-l.done
	return nil, errors.New("closed")
}

func (l *oneConn) close()         { l.closed.Do(func() { close(l.done) }) }
func (l *oneConn) Close() error   { l.close(); return nil }
func (l *oneConn) Addr() net.Addr { return l.c.LocalAddr() }
