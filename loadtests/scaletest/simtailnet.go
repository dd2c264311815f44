package main

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"
	"tailscale.com/types/key"

	"github.com/hearthdev/hearth/internal/tailnet"
)

// coordinate keeps a simulated agent's node on the tailnet: it coordinates with the control plane
// as a real agent does (its node with keys, an endpoint and a DERP home) and takes the peer updates,
// reconnecting after a second, but runs no WireGuard engine: the load is the coordinator's.
func (a *simAgent) coordinate(ctx context.Context) {
	id, err := uuid.Parse(a.id)
	if err != nil {
		a.rec.fail("tailnet.coordinate", err)
		return
	}
	node := tailnet.Node{ID: id, Key: key.NewNode().Public(), DiscoKey: key.NewDisco().Public(),
		Addresses: []netip.Prefix{netip.PrefixFrom(tailnet.IP(id), 128)}, Endpoints: []string{"127.0.0.1:41641"},
		PreferredDERP: 1, DERPLatency: map[string]float64{"1-v4": 0.001}}
	u := strings.TrimSuffix(a.base, "/") + "/api/v2/workspaceagents/me/coordinate"
	header := http.Header{"Hearth-Agent-Token": {a.token}, "User-Agent": {"hearth-scaletest-agent"}}
	for ctx.Err() == nil {
		var co *tailnet.Coordination
		err := a.rec.time("tailnet.coordinate-connect", func() error {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var err error
			if co, err = tailnet.Dial(dctx, u, header); err != nil {
				return cut(ctx, err)
			}
			node.AsOf = time.Now()
			return cut(ctx, co.Send(dctx, node))
		})
		if err != nil && co != nil {
			_ = co.Close()
		}
		if err == nil {
			a.tailnetUp.Store(true)
			for {
				if _, err = co.Next(ctx); err != nil {
					break
				}
			}
			a.tailnetUp.Store(false)
			_ = co.Close()
		}
		if ctx.Err() != nil {
			return
		}
		a.rec.fail("tailnet.coordinate", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
