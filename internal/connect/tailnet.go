package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/cliconfig"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// PathEnv chooses how connections go: "auto" (the default: WireGuard, directly or through DERP,
// else the relay), "tailnet" (WireGuard only) or "relay" (the control plane's relay only).
const PathEnv = "HEARTH_CONNECTION_PATH"

// PingTimeout is how long a ping waits for its pong.
const PingTimeout = 5 * time.Second

// DialWait bounds a TCP connection over WireGuard once the agent's node is known.
const DialWait = 30 * time.Second

// AgentWait is how long a client waits to hear of the agent's node before it takes the relay.
const AgentWait = 5 * time.Second

// Tailnet is a client's node on an agent's tailnet: coordinated through the control plane, with
// the agent as its one peer.
type Tailnet struct {
	AgentID uuid.UUID
	conn    *tailnet.Conn
	co      *tailnet.Coordination
	cancel  context.CancelFunc
	done    chan struct{}

	mu    sync.Mutex
	agent chan struct{} // closed once the agent's node is known
	err   error         // why the coordination ended
}

// OpenTailnet coordinates a fresh node with the agent.
func OpenTailnet(ctx context.Context, s cliconfig.Session, agentID uuid.UUID, log *slog.Logger) (*Tailnet, error) {
	id := uuid.New()
	u := strings.TrimSuffix(s.URL, "/") + "/api/v2/workspaceagents/" + agentID.String() + "/coordinate?" + url.Values{"id": {id.String()}}.Encode()
	co, err := tailnet.Dial(ctx, u, http.Header{"Authorization": {"Bearer " + s.Token}, "User-Agent": {"hearth-cli/" + buildinfo.Version()}})
	if err != nil {
		return nil, err
	}
	dm, err := co.DERPMap().Tailscale()
	if err != nil {
		_ = co.Close()
		return nil, err
	}
	nets, err := co.EndpointNetworks()
	if err != nil {
		_ = co.Close()
		return nil, err
	}
	conn, err := tailnet.New(tailnet.Options{ID: id, DERPMap: dm, EndpointNetworks: nets, Logger: log})
	if err != nil {
		_ = co.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &Tailnet{AgentID: agentID, conn: conn, co: co, cancel: cancel, done: make(chan struct{}), agent: make(chan struct{})}
	var once sync.Once
	go func() {
		defer close(t.done)
		err := co.Run(rctx, conn, func(peers []tailnet.Node) {
			for _, p := range peers {
				// An agent that has just started has no DERP home or endpoint yet: a handshake sent
				// now would be lost, and WireGuard retries only after 5 s.
				if p.ID == agentID && (p.PreferredDERP != 0 || len(p.Endpoints) > 0) {
					once.Do(func() { close(t.agent) })
				}
			}
		})
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
		// The coordinator withdrew this client's authority: its connections to the agent end now,
		// not when TCP gives up on a peer that no longer answers. (A coordinator that merely went
		// away leaves direct connections running.)
		if reason, revoked := tailnet.Revoked(err); revoked {
			log.Warn("the server withdrew this connection's access to the agent", "reason", reason)
			conn.Close()
		}
	}()
	return t, nil
}

// waitAgent waits until the agent's node is known.
func (t *Tailnet) waitAgent(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, AgentWait)
	defer cancel()
	select {
	case <-t.agent:
		return nil
	case <-t.done:
		t.mu.Lock()
		defer t.mu.Unlock()
		return fmt.Errorf("the coordination ended: %w", t.err)
	case <-ctx.Done():
		return errors.New("the agent's node did not appear (is the agent on the tailnet?)")
	}
}

// Dial opens a TCP connection to port on the agent's tailnet address (tailnet.PortSSH: its SSH server).
func (t *Tailnet) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	if err := t.waitAgent(ctx); err != nil {
		return nil, err
	}
	// A WireGuard handshake that is lost (the agent has not yet heard of this node through the
	// coordinator, which on a busy deployment crosses replicas through PostgreSQL) is retried every
	// 5 s; leave room for several. Auto mode bounds the whole attempt much shorter (AutoWait).
	ctx, cancel := context.WithTimeout(ctx, DialWait)
	defer cancel()
	return t.conn.DialTCP(ctx, t.AgentID, port)
}

// Ping sends one ping to the agent and says by which path the answer came.
func (t *Tailnet) Ping(ctx context.Context) (tailnet.Pong, error) {
	if err := t.waitAgent(ctx); err != nil {
		return tailnet.Pong{}, err
	}
	// A ping sent before either side knows a path (the first moments of a node) is lost: send
	// another every 250 ms until one comes back.
	deadline := time.Now().Add(PingTimeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, min(250*time.Millisecond, time.Until(deadline)))
		pong, err := t.conn.Ping(pctx, t.AgentID)
		cancel()
		if err == nil || ctx.Err() != nil || !time.Now().Before(deadline) {
			return pong, err
		}
	}
}

// Close leaves the tailnet.
func (t *Tailnet) Close() {
	t.cancel()
	_ = t.co.Close()
	<-t.done
	t.conn.Close()
}

// mode is the connection path chosen in the environment.
func mode() string {
	switch m := os.Getenv(PathEnv); m {
	case "tailnet", "relay":
		return m
	default:
		return "auto"
	}
}

// Dialer connects to one agent, preferring WireGuard and falling back to the relay. One tailnet
// node serves all of its connections.
type Dialer struct {
	Session cliconfig.Session
	AgentID string
	// Logger takes the tailnet's debug output and the reason for a fallback.
	Logger *slog.Logger
	// Keep, for the CLI's own commands, connects through the session's keeper (KeepEnv), and
	// starts one (this executable, run as KeeperCommand) when none runs.
	Keep bool

	mu      sync.Mutex
	tn      *Tailnet
	tnErr   error
	relayed bool

	keeperOnce sync.Once
}

// Path says which way the last connection went.
func (d *Dialer) Path() tailnet.Path {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.relayed || d.tn == nil {
		return tailnet.PathRelay
	}
	return "tailnet"
}

// Tailnet is the dialer's node, started on first use; an error says why there is none.
func (d *Dialer) Tailnet(ctx context.Context) (*Tailnet, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tn == nil && d.tnErr == nil {
		id, err := uuid.Parse(d.AgentID)
		if err != nil {
			d.tnErr = err
		} else {
			d.tn, d.tnErr = OpenTailnet(ctx, d.Session, id, d.logger())
		}
	}
	return d.tn, d.tnErr
}

func (d *Dialer) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// AutoWait bounds the WireGuard attempt of a connection in auto mode before it takes the relay.
const AutoWait = 4 * time.Second

// Dial opens a connection of kind ssh or tcp (to port).
func (d *Dialer) Dial(ctx context.Context, kind string, port int) (net.Conn, error) {
	m := mode()
	if m != "relay" {
		tctx, cancel := context.WithCancel(ctx)
		if m == "auto" {
			tctx, cancel = context.WithTimeout(ctx, AutoWait)
		}
		conn, err := d.dialTailnet(tctx, kind, port)
		cancel()
		if err == nil {
			d.mu.Lock()
			d.relayed = false
			d.mu.Unlock()
			return conn, nil
		}
		if m == "tailnet" {
			return nil, fmt.Errorf("no WireGuard connection to the agent (%s=tailnet): %w", PathEnv, err)
		}
		d.logger().Debug("connect: taking the relay", "error", err)
	}
	d.mu.Lock()
	d.relayed = true
	d.mu.Unlock()
	return Dial(ctx, d.Session, d.AgentID, kind, port)
}

func (d *Dialer) dialTailnet(ctx context.Context, kind string, port int) (net.Conn, error) {
	p := tailnet.PortSSH
	if kind != "ssh" {
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("port %d", port)
		}
		p = uint16(port) //nolint:gosec // checked above
	}
	d.mu.Lock()
	own := d.tn != nil
	d.mu.Unlock()
	if keep := keepFor(); d.Keep && keep > 0 && !own {
		wait := DialWait
		if dl, ok := ctx.Deadline(); ok {
			wait = time.Until(dl)
		}
		conn, err := dialKeeper(ctx, d.Session, d.AgentID, p, wait)
		switch {
		case err == nil:
			d.logger().Debug("connect: through the CLI's keeper")
			return conn, nil
		case errors.Is(err, errNoKeeper):
			// Connect as before this time; the next command finds the keeper.
			d.keeperOnce.Do(func() { startKeeper(d.Session, d.AgentID, keep) })
		default:
			return nil, err
		}
	}
	tn, err := d.Tailnet(ctx)
	if err != nil {
		return nil, err
	}
	return tn.Dial(ctx, p)
}

// Close leaves the tailnet, if it was joined.
func (d *Dialer) Close() {
	d.mu.Lock()
	tn := d.tn
	d.tn, d.tnErr = nil, errors.New("closed")
	d.mu.Unlock()
	if tn != nil {
		tn.Close()
	}
}
