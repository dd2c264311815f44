// Package proxy is the regional workspace proxy (hearth proxy). Agents near it open their tunnels to it
// instead of to the control plane; it has the control plane record that (so any server replica reaches
// those agents through it) and passes the agents' other calls on. Users connect through it with a
// connection ticket the control plane signed: their SSH and port-forward traffic goes user → proxy →
// agent, never through the control plane.
//
// It has no database access: tickets signed by the control plane carry its authority, checked with
// the control plane's public keys, and it talks to the control plane only through the generated
// client (checked by deps_test.go).
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/hashicorp/yamux"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/derphost"
	"github.com/hearthdev/hearth/internal/hub"
	"github.com/hearthdev/hearth/internal/ticketkeys"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// TicketHeader carries a user's connection ticket to the proxy.
const TicketHeader = hub.ConnectionTicketHeader

// Config configures a proxy.
type Config struct {
	// PrimaryURL is the control plane's access URL.
	PrimaryURL string
	// Token is the proxy's token (create-workspace-proxy).
	Token string
	// AccessURL is where users, agents and server replicas reach this proxy.
	AccessURL string
	// Listener serves the proxy's HTTP.
	Listener net.Listener
	Logger   *slog.Logger
	// DERP serves DERP at /derp, which makes the proxy a region of the deployment's DERP map;
	// STUNAddress is the UDP address of its STUN server (empty: none).
	DERP        bool
	STUNAddress string
	// Ready, when set, is called once the proxy is registered and serving.
	Ready func(name string)
}

type proxy struct {
	cfg      Config
	api      *client.ClientWithResponses
	instance uuid.UUID
	hub      hub.Hub
	primary  *httputil.ReverseProxy
	derp     *derphost.Host // nil: the proxy serves no DERP

	mu     sync.Mutex
	keys   *ticketkeys.KeySet
	loaded time.Time
}

// keysFresh is how long the control plane's public keys are used before they are fetched again (the
// control plane serves them for a minute's caching).
const keysFresh = time.Minute

// Run registers the proxy and serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	primary, err := url.Parse(strings.TrimSuffix(cfg.PrimaryURL, "/"))
	if err != nil || (primary.Scheme != "http" && primary.Scheme != "https") || primary.Host == "" {
		return fmt.Errorf("proxy: the primary URL %q must be an http or https URL", cfg.PrimaryURL)
	}
	api, err := client.Dial(cfg.PrimaryURL, "", "proxy")
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	p := &proxy{cfg: cfg, api: api, instance: uuid.New(), primary: httputil.NewSingleHostReverseProxy(primary)}
	p.primary.ErrorLog = slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)
	reg, err := p.register(ctx)
	if err != nil {
		return err
	}
	if _, err := p.keySet(ctx); err != nil {
		return fmt.Errorf("proxy: the control plane's ticket keys: %w", err)
	}
	if err := p.startDERP(ctx, reg); err != nil {
		return err
	}
	defer p.stopDERP()
	srv := &http.Server{Handler: p.routes(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(cfg.Listener) }()
	if p.derp != nil { // again, with the STUN port, now that DERP is served
		again, rerr := p.register(ctx)
		if rerr != nil {
			cfg.Logger.Warn("proxy: heartbeat failed", "error", rerr)
		}
		p.mesh(ctx, again)
	}
	name, every := reg.Name, time.Duration(reg.HeartbeatSeconds)*time.Second
	cfg.Logger.Info("proxy: serving", "proxy", name, "address", cfg.Listener.Addr().String(), "access_url", cfg.AccessURL, "derp", p.derp != nil)
	if cfg.Ready != nil {
		cfg.Ready(name)
	}
	t := time.NewTicker(every)
	defer t.Stop()
serving:
	for {
		select {
		case <-ctx.Done():
			break serving
		case serr := <-serveErr:
			err = fmt.Errorf("proxy: %w", serr)
			break serving
		case <-t.C:
			var e *client.Error
			r, rerr := p.register(ctx)
			switch {
			case errors.As(rerr, &e) && e.Status == http.StatusUnauthorized:
				err = rerr // the proxy was deleted: stop
				break serving
			case rerr != nil:
				cfg.Logger.Warn("proxy: heartbeat failed", "error", rerr)
			default:
				p.mesh(ctx, r)
			}
		}
	}
	// Stop: deregister first, so replicas stop sending streams here, then drop the agents (they
	// reconnect to the proxy's next instance, or wherever their URL leads).
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, derr := p.api.DeregisterWorkspaceProxyWithResponse(stop, &client.DeregisterWorkspaceProxyParams{HearthProxyToken: &cfg.Token},
		client.DeregisterWorkspaceProxyJSONRequestBody{InstanceId: p.instance.String()}); derr != nil {
		cfg.Logger.Warn("proxy: deregistering failed", "error", derr)
	}
	p.hub.CloseAll()
	_ = srv.Shutdown(stop)
	return err
}

// register registers the instance (its heartbeat).
func (p *proxy) register(ctx context.Context) (*client.RegisterProxyOutputBody, error) {
	host, _ := os.Hostname()
	v := buildinfo.Version()
	body := client.RegisterWorkspaceProxyJSONRequestBody{InstanceId: p.instance.String(), Url: p.cfg.AccessURL, Hostname: &host, Version: &v}
	if p.cfg.DERP {
		derp, port := true, int64(0)
		if p.derp != nil {
			port = int64(p.derp.STUNPort())
		}
		body.Derp, body.StunPort = &derp, &port
	}
	res, err := p.api.RegisterWorkspaceProxyWithResponse(ctx, &client.RegisterWorkspaceProxyParams{HearthProxyToken: &p.cfg.Token}, body)
	if err != nil {
		return nil, fmt.Errorf("proxy: reach the control plane at %s: %w", p.cfg.PrimaryURL, err)
	}
	if err := client.Check(res.HTTPResponse, res.Body); err != nil {
		return nil, fmt.Errorf("proxy: register: %w", err)
	}
	return res.JSON200, nil
}

// keySet returns the control plane's public keys, fetched at most once a minute.
func (p *proxy) keySet(ctx context.Context) (*ticketkeys.KeySet, error) {
	p.mu.Lock()
	keys, fresh := p.keys, time.Since(p.loaded) < keysFresh
	p.mu.Unlock()
	if keys != nil && fresh {
		return keys, nil
	}
	res, err := p.api.GetTicketKeysWithResponse(ctx)
	if err == nil {
		err = client.Check(res.HTTPResponse, res.Body)
	}
	if err != nil {
		if keys != nil { // the control plane is away: the keys we have still verify
			return keys, nil
		}
		return nil, err
	}
	jwks := make([]ticketkeys.JWK, 0, len(res.JSON200.Keys))
	for _, k := range res.JSON200.Keys {
		jwks = append(jwks, ticketkeys.JWK{KeyType: string(k.Kty), Curve: string(k.Crv), X: k.X, KeyID: k.Kid, Algorithm: string(k.Alg), Use: string(k.Use)})
	}
	if keys, err = ticketkeys.ParseJWKs(jwks); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.keys, p.loaded = keys, time.Now()
	p.mu.Unlock()
	return keys, nil
}

func (p *proxy) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/api/v2/workspaceagents/", func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/api/v2/workspaceagents/")
		agent, what, _ := strings.Cut(rest, "/")
		switch {
		case agent == "me" && what == "tunnel" && r.Method == http.MethodGet:
			p.agentTunnel(w, r)
		case agent == "me":
			// The agents' other calls (manifest, reports, logs, metadata) go on to the control
			// plane as they are.
			p.primary.ServeHTTP(w, r)
		case what == "connect" && r.Method == http.MethodGet:
			p.connect(w, r, agent)
		default:
			hub.Fail(w, http.StatusNotFound, "A workspace proxy serves only agents' tunnels and connections to them.")
		}
	})
	mux.Handle("GET /bin/", p.primary) // the agent binary
	if p.derp != nil {
		mux.Handle("/derp", p.derp.Handler())
		mux.Handle("/derp/", p.derp.Handler())
	}
	mux.HandleFunc("GET "+hub.PeerPath, func(w http.ResponseWriter, r *http.Request) { p.hub.ServePeer(w, r, p.keySet, p.cfg.Logger) })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		hub.Fail(w, http.StatusNotFound, "This is a workspace proxy: it carries agents' tunnels and connections to them. The API and the dashboard are at "+p.cfg.PrimaryURL+".")
	})
	return mux
}

// agentTunnel holds an agent's tunnel, once the control plane accepted its token and recorded that
// this instance holds it.
func (p *proxy) agentTunnel(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get("Hearth-Agent-Token")
	version := r.URL.Query().Get("version")
	res, err := p.api.ConnectProxiedAgentWithResponse(r.Context(), &client.ConnectProxiedAgentParams{HearthProxyToken: &p.cfg.Token},
		client.ConnectProxiedAgentJSONRequestBody{InstanceId: p.instance.String(), AgentToken: token, Version: &version})
	if err != nil {
		hub.Fail(w, http.StatusBadGateway, "The control plane cannot be reached to check the agent's token.")
		return
	}
	if err := client.Check(res.HTTPResponse, res.Body); err != nil {
		var e *client.Error
		if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			hub.Fail(w, http.StatusUnauthorized, "The agent token is not one of a current workspace build's agents.")
			return
		}
		p.cfg.Logger.Warn("proxy: recording an agent's tunnel failed", "error", err)
		hub.Fail(w, http.StatusBadGateway, "The control plane did not record the agent's tunnel.")
		return
	}
	agentID, connID := res.JSON200.AgentId, res.JSON200.ConnectionId.String()
	// The tunnel lasts as long as the agent: it is held in a goroutine of its own, which pings the
	// agent itself (no yamux keepalive goroutine), and this handler returns. Stopping the proxy
	// closes every tunnel (hub.CloseAll), which ends that goroutine.
	ctx := context.WithoutCancel(r.Context())
	disconnected := func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := p.api.DisconnectProxiedAgentWithResponse(c, agentID.String(), &client.DisconnectProxiedAgentParams{HearthProxyToken: &p.cfg.Token},
			client.DisconnectProxiedAgentJSONRequestBody{ConnectionId: connID}); err != nil {
			p.cfg.Logger.Warn("proxy: recording a disconnection failed", "agent", agentID, "error", err)
		}
		p.cfg.Logger.Info("proxy: agent disconnected", "agent", agentID)
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		disconnected()
		return
	}
	c.SetReadLimit(-1)
	conn := websocket.NetConn(ctx, c, websocket.MessageBinary)
	cfg := tunnel.Config()
	cfg.EnableKeepAlive = false
	session, err := yamux.Client(conn, cfg)
	if err != nil {
		_ = conn.Close()
		disconnected()
		return
	}
	release := p.hub.Hold(agentID, session)
	p.cfg.Logger.Info("proxy: agent connected", "agent", agentID)
	go func() {
		defer disconnected()
		defer release()
		if err := tunnel.Hold(ctx, session, cfg.KeepAliveInterval); err != nil {
			p.cfg.Logger.Info("proxy: the agent stopped answering pings", "agent", agentID, "error", err)
		}
	}()
}

// connect joins a user's upgraded connection to a stream to the agent, with a connection ticket for
// that agent as its authority.
func (p *proxy) connect(w http.ResponseWriter, r *http.Request, agent string) {
	agentID, err := uuid.Parse(agent)
	if err != nil {
		hub.Fail(w, http.StatusNotFound, "agent must be an agent's ID.")
		return
	}
	keys, err := p.keySet(r.Context())
	if err != nil {
		p.cfg.Logger.Error("proxy: loading the ticket keys failed", "error", err)
		hub.Fail(w, http.StatusServiceUnavailable, "The control plane's ticket keys could not be loaded.")
		return
	}
	claims, err := keys.Verify(r.Header.Get(TicketHeader), ticketkeys.KindConnection)
	if err != nil || claims.Resource != agentID.String() {
		hub.Fail(w, http.StatusUnauthorized, "Send a connection ticket for this agent (create-connection-ticket) as "+TicketHeader+".")
		return
	}
	hdr := tunnel.Header{Kind: r.URL.Query().Get("kind")}
	switch hdr.Kind {
	case tunnel.KindSSH:
	case tunnel.KindTCP:
		port, err := strconv.Atoi(r.URL.Query().Get("port"))
		if err != nil || port < 1 || port > 65535 {
			hub.Fail(w, http.StatusUnprocessableEntity, "kind=tcp needs a port from 1 to 65535.")
			return
		}
		hdr.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	default:
		hub.Fail(w, http.StatusUnprocessableEntity, "kind must be ssh or tcp.")
		return
	}
	p.hub.ServeStream(w, r, agentID, hdr)
}
