package agent

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// tailnetLoop puts the agent on the tailnet: it coordinates its node with the control plane
// (reconnecting with backoff), serves SSH on tailnet.PortSSH and forwards every other port to the
// workspace's loopback, for clients with a direct (or DERP) path. The tunnel stays up beside it
// for clients without one.
func (a *agent) tailnetLoop(ctx context.Context) {
	id, err := uuid.Parse(a.manifest.AgentId)
	if err != nil {
		a.cfg.Logger.Warn("agent: no direct connections: the manifest's agent ID is not a UUID", "agent_id", a.manifest.AgentId)
		return
	}
	u := strings.TrimSuffix(a.cfg.URL, "/") + "/api/v2/workspaceagents/me/coordinate"
	header := http.Header{"Hearth-Agent-Token": {a.currentToken()}, "User-Agent": {"hearth-agent/" + buildinfo.Version()}}
	var conn *tailnet.Conn
	defer func() {
		a.tailnet.Store(nil)
		if conn != nil {
			conn.Close()
		}
	}()
	b := newBackoff()
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		co, err := tailnet.Dial(dctx, u, header)
		cancel()
		var refused *tailnet.RefusedError
		switch {
		case errors.As(err, &refused) && (refused.Status == http.StatusNotFound || refused.Status == http.StatusServiceUnavailable):
			a.cfg.Logger.Info("agent: the control plane offers no direct connections; connections go through the tunnel", "status", refused.Status)
			return
		case err != nil:
			a.cfg.Logger.Warn("agent: cannot coordinate direct connections; retrying", "error", err, "in", b.d)
			if !b.wait(ctx) {
				return
			}
			continue
		}
		if conn == nil {
			if conn, err = a.startTailnet(ctx, id, co); err != nil {
				_ = co.Close()
				a.cfg.Logger.Warn("agent: no direct connections", "error", err)
				return
			}
		}
		b.reset()
		a.cfg.Logger.Info("agent: coordinating direct connections", "address", conn.Addr())
		err = co.Run(ctx, conn, nil)
		if ctx.Err() != nil {
			return
		}
		a.cfg.Logger.Warn("agent: coordination lost; reconnecting", "error", err, "in", b.d)
		if !b.wait(ctx) {
			return
		}
	}
}

// startTailnet starts the agent's node and its SSH listener.
func (a *agent) startTailnet(ctx context.Context, id uuid.UUID, co *tailnet.Coordination) (*tailnet.Conn, error) {
	dm, err := co.DERPMap().Tailscale()
	if err != nil {
		return nil, err
	}
	nets, err := co.EndpointNetworks()
	if err != nil {
		return nil, err
	}
	conn, err := tailnet.New(tailnet.Options{ID: id, DERPMap: dm, EndpointNetworks: nets, Logger: a.cfg.Logger, ForwardTCP: true, AwaitHandshakes: true})
	if err != nil {
		return nil, err
	}
	a.tailnet.Store(conn)
	ln, err := conn.Listen(tailnet.PortSSH)
	if err != nil {
		conn.Close()
		return nil, err
	}
	speed, err := conn.Listen(tailnet.PortSpeedtest)
	if err != nil {
		conn.Close()
		return nil, err
	}
	streams, err := conn.Listen(tailnet.PortTunnel)
	if err != nil {
		conn.Close()
		return nil, err
	}
	go tailnet.ServeSpeedtest(speed)
	go func() {
		<-ctx.Done()
		_ = ln.Close()
		_ = speed.Close()
		_ = streams.Close()
	}()
	go func() {
		for {
			c, err := streams.Accept()
			if err != nil {
				return
			}
			go a.handleStream(ctx, c, false)
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.stats.total.Add(1)
			go a.serveSSH(c)
		}
	}()
	return conn, nil
}
