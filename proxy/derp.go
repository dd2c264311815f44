package proxy

import (
	"context"
	"fmt"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/derphost"
)

// startDERP starts the proxy's DERP server (and STUN server), when it serves DERP and the control
// plane gave it a mesh key (none: direct connections are off on the deployment).
func (p *proxy) startDERP(ctx context.Context, reg *client.RegisterProxyOutputBody) error {
	if !p.cfg.DERP {
		return nil
	}
	if reg.DerpMeshKey == nil {
		p.cfg.Logger.Info("proxy: the deployment has direct connections off (--derp=false): serving no DERP")
		return nil
	}
	host, err := derphost.Start(ctx, derphost.Config{STUNAddress: p.cfg.STUNAddress, MeshKey: *reg.DerpMeshKey, Logger: p.cfg.Logger,
		Admit: p.admitDERPClient})
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	p.derp = host
	return nil
}

// admitDERPClient asks the control plane whether a coordinator serves the node key: the proxy has
// no database, and its DERP admits whom the replicas' admit.
func (p *proxy) admitDERPClient(ctx context.Context, nodeKey string) (bool, error) {
	res, err := p.api.AdmitWorkspaceProxyDerpClientWithResponse(ctx, &client.AdmitWorkspaceProxyDerpClientParams{HearthProxyToken: &p.cfg.Token},
		client.AdmitWorkspaceProxyDerpClientJSONRequestBody{NodeKey: nodeKey})
	if err != nil {
		return false, fmt.Errorf("reach the control plane at %s: %w", p.cfg.PrimaryURL, err)
	}
	if err := client.Check(res.HTTPResponse, res.Body); err != nil {
		return false, err
	}
	return res.JSON200.Allow, nil
}

// mesh meshes the DERP server with those of the proxy's other instances, as the last heartbeat
// listed them.
func (p *proxy) mesh(ctx context.Context, reg *client.RegisterProxyOutputBody) {
	if p.derp != nil && reg != nil {
		p.derp.Mesh(ctx, reg.DerpMesh)
	}
}

func (p *proxy) stopDERP() {
	if p.derp != nil {
		p.derp.Close()
	}
}
