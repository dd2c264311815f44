// Package derphost runs a replica's DERP server (served on the replica's HTTP listener at /derp)
// and its STUN server (a UDP port). DERP relays WireGuard packets, which stay end-to-end
// encrypted, between nodes that have no direct path; it admits only node keys the coordinator
// knows, so a stranger cannot use a deployment as a relay.
package derphost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/derp/derpserver"
	"tailscale.com/net/netmon"
	"tailscale.com/net/stunserver"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

// Config configures a replica's DERP and STUN.
type Config struct {
	// Admit says whether a node key ("nodekey:HEX") may use DERP.
	Admit func(ctx context.Context, nodeKey string) (bool, error)
	// STUNAddress is the UDP address of the STUN server; empty runs none.
	STUNAddress string
	// MeshKey (64 hex digits), shared by every replica, lets their DERP servers forward to each other.
	MeshKey string
	Logger  *slog.Logger
}

// Host is a running DERP server (and STUN server).
type Host struct {
	derp    *derpserver.Server
	stun    *stunserver.STUNServer
	stunLn  net.Addr
	admit   *http.Server
	cancel  context.CancelFunc
	log     *slog.Logger
	handler http.Handler

	meshMu sync.Mutex
	mesh   map[string]meshPeer
}

// Start starts the servers; the DERP one serves through Handler.
func Start(ctx context.Context, cfg Config) (*Host, error) {
	log := cfg.Logger
	logf := func(format string, args ...any) {
		if log.Enabled(ctx, slog.LevelDebug) {
			log.Debug(fmt.Sprintf(format, args...), "component", "derp")
		}
	}
	h := &Host{log: log, derp: derpserver.New(key.NewNode(), logf), mesh: map[string]meshPeer{}}
	if cfg.MeshKey != "" {
		if err := h.derp.SetMeshKey(cfg.MeshKey); err != nil {
			return nil, fmt.Errorf("derp: mesh key: %w", err)
		}
	}
	// Admission: the DERP server asks an HTTP URL about each new client; this one listens on
	// loopback only and answers from the coordinator's table.
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("derp: admission listener: %w", err)
	}
	h.admit = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req tailcfg.DERPAdmitClientRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		k, _ := req.NodePublic.MarshalText()
		ok, err := admitWithin(r.Context(), cfg.Admit, string(k), AdmitWait)
		if err != nil {
			log.Warn("derp: admission check failed", "node_key", req.NodePublic.ShortString(), "error", err)
		} else if !ok {
			log.Info("derp: refused a client whose node key no coordinator knows", "node_key", req.NodePublic.ShortString(), "source", req.Source)
		}
		_ = json.NewEncoder(w).Encode(tailcfg.DERPAdmitClientResponse{Allow: ok && err == nil})
	})}
	go func() { _ = h.admit.Serve(ln) }()
	h.derp.SetVerifyClientURL("http://" + ln.Addr().String() + "/admit")
	h.derp.SetVerifyClientURLFailOpen(false)
	h.handler = derpserver.Handler(h.derp)

	if cfg.STUNAddress != "" {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		h.cancel = cancel
		h.stun = stunserver.New(sctx)
		if err := h.stun.Listen(cfg.STUNAddress); err != nil {
			log.Warn("derp: no STUN server: nodes behind NAT will find fewer direct paths", "address", cfg.STUNAddress, "error", err)
			h.stun = nil
		} else {
			h.stunLn = h.stun.LocalAddr()
			go func() {
				if err := h.stun.Serve(); err != nil && !errors.Is(err, net.ErrClosed) && sctx.Err() == nil {
					log.Warn("derp: the STUN server stopped", "error", err)
				}
			}()
		}
	}
	return h, nil
}

// AdmitWait is how long an unknown node key is looked for before its DERP client is refused: a
// node's first message to the coordinator and its first DERP connection leave at about the same
// time, and a refused client only comes back after a backoff, losing what was sent meanwhile (the
// agent's first WireGuard handshake, which is retried only after 5 s).
const AdmitWait = 2 * time.Second

// admitWithin asks admit about k until it says yes, it fails, or wait has passed.
func admitWithin(ctx context.Context, admit func(context.Context, string) (bool, error), k string, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
		ok, err := admit(ctx, k)
		if ok || err != nil || time.Now().Add(pause).After(deadline) {
			return ok, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// Handler serves DERP (mount it at /derp and /derp/).
func (h *Host) Handler() http.Handler { return h.handler }

// STUNPort is the STUN server's UDP port, 0 when none runs.
func (h *Host) STUNPort() int {
	if a, ok := h.stunLn.(*net.UDPAddr); ok {
		return a.Port
	}
	return 0
}

// Close stops both servers; DERP clients are dropped and reconnect to another replica.
func (h *Host) Close() {
	if h.cancel != nil {
		h.cancel()
	}
	h.Mesh(context.Background(), nil)
	_ = h.derp.Close()
	_ = h.admit.Close()
}

// Mesh makes this DERP server one region with the servers at urls (the other replicas' DERP, as
// http(s)://HOST:PORT/derp): packets for a node connected to one of them are forwarded there.
// Servers mesh only with a shared Config.MeshKey; call Mesh again whenever the replicas change.
func (h *Host) Mesh(ctx context.Context, urls []string) {
	if !h.derp.HasMeshKey() {
		return
	}
	h.meshMu.Lock()
	defer h.meshMu.Unlock()
	want := map[string]bool{}
	for _, u := range urls {
		want[u] = true
		if _, ok := h.mesh[u]; ok {
			continue
		}
		logf := func(format string, args ...any) {
			if h.log.Enabled(ctx, slog.LevelDebug) {
				h.log.Debug(fmt.Sprintf(format, args...), "component", "derp-mesh", "peer", u)
			}
		}
		c, err := derphttp.NewClient(h.derp.PrivateKey(), u, logf, netmon.NewStatic())
		if err != nil {
			h.log.Warn("derp: cannot mesh with another replica", "url", u, "error", err)
			continue
		}
		c.MeshKey = h.derp.MeshKey()
		c.WatchConnectionChanges = true
		mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		add := func(m derp.PeerPresentMessage) { h.derp.AddPacketForwarder(m.Key, c) }
		remove := func(m derp.PeerGoneMessage) { h.derp.RemovePacketForwarder(m.Peer, c) }
		go c.RunWatchConnectionLoop(mctx, h.derp.PublicKey(), logf, add, remove, func(error) {})
		h.mesh[u] = meshPeer{client: c, cancel: cancel}
	}
	for u, p := range h.mesh {
		if !want[u] {
			p.cancel()
			_ = p.client.Close()
			delete(h.mesh, u)
		}
	}
}

type meshPeer struct {
	client *derphttp.Client
	cancel context.CancelFunc
}
