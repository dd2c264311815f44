// Package region is the API of workspace proxies: regional relays (hearth proxy) that hold the tunnels
// of the agents near them and carry their users' connections without a trip through the control
// plane. An owner registers a proxy by name and gets its token once; a running proxy registers each
// of its instances with that token (a heartbeat), which makes the instance a replica of the relay
// registry: an agent whose tunnel it holds is reached through it from any replica. Proxies have no
// database: connection tickets the control plane signs carry their users' authority.
package region

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/apikey"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coordinator"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// TokenHeader carries a proxy's token.
const TokenHeader = "Hearth-Proxy-Token"

// HeartbeatInterval is how often a proxy instance registers again; the registry takes it for gone
// after relay.Fresh.
const HeartbeatInterval = relay.HeartbeatInterval

// Deps are what the resource needs.
type Deps struct {
	DB       *db.DB
	Security []map[string][]string
	// Coordinator publishes the DERP map (nil: direct connections are off).
	Coordinator *coordinator.Coordinator
	// MeshKey is the key the DERP servers of a proxy's instances mesh with (one per proxy, so a
	// proxy cannot join another's region or the server's).
	MeshKey func(proxy uuid.UUID) string
}

type handlers struct{ Deps }

// ProxySecurity is the requirement of the operations proxies call.
var ProxySecurity = []map[string][]string{{"proxy-token": {}}}

// Register adds the operations.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	errs := []int{http.StatusUnauthorized, http.StatusForbidden}
	create := huma.Operation{OperationID: "create-workspace-proxy", Method: http.MethodPost, Path: "/api/v2/workspaceproxies",
		Summary: "Register a workspace proxy", Tags: []string{"Workspace proxies"}, Security: d.Security,
		Description:   "For owners. Answers with the proxy's token, shown only this once: start `hearth proxy` with it.",
		DefaultStatus: http.StatusCreated, Errors: append(errs, http.StatusConflict)}
	huma.Register(api, create, h.create)
	huma.Register(api, huma.Operation{OperationID: "list-workspace-proxies", Method: http.MethodGet, Path: "/api/v2/workspaceproxies",
		Summary: "List workspace proxies", Tags: []string{"Workspace proxies"}, Security: d.Security,
		Description: "Every registered proxy, with its address, version, when it was last seen and how many of its instances are running.",
		Errors:      errs}, h.list)
	huma.Register(api, huma.Operation{OperationID: "delete-workspace-proxy", Method: http.MethodDelete, Path: "/api/v2/workspaceproxies/{proxy}",
		Summary: "Delete a workspace proxy", Tags: []string{"Workspace proxies"}, Security: d.Security,
		Description:   "For owners. Its token stops working at once; agents connected through it reconnect when it drops them.",
		DefaultStatus: http.StatusNoContent, Errors: append(errs, http.StatusNotFound)}, h.delete)
	huma.Register(api, huma.Operation{OperationID: "get-derp-map", Method: http.MethodGet, Path: "/api/v2/derp-map",
		Summary: "Get the DERP map", Tags: []string{"Workspace proxies"}, Security: d.Security,
		Description: "The DERP regions nodes of this deployment use when no direct path exists: its own (every server replica serves DERP at /derp, and STUN on stun_port), those of --derp-map-file, " +
			"and one per workspace proxy that serves DERP and has an instance running (numbered from 10000, coded by the proxy's name). " +
			"Agents and clients get the same map when they coordinate, and a new one when a proxy's region comes or goes. 404 when direct connections are off (--derp=false).",
		Errors: append(errs, http.StatusNotFound)}, h.derpMap)
	huma.Register(api, Operation("register-workspace-proxy", "register", "Register a proxy instance (heartbeat)",
		"Call at start and every heartbeat_seconds: an instance unheard of for 30 s is taken for gone, with the tunnels it holds."), h.register)
	stop := Operation("deregister-workspace-proxy", "deregister", "Deregister a stopping proxy instance",
		"The instance is gone at once: agents it held are reached again when they reconnect elsewhere.")
	stop.DefaultStatus = http.StatusNoContent
	huma.Register(api, stop, h.deregister)
	huma.Register(api, Operation("admit-workspace-proxy-derp-client", "derp-admission", "Ask whether a DERP client may use the proxy's DERP server",
		"A proxy's DERP server admits only the node keys of nodes some coordinator serves, as the server replicas' do. "+
			"404 when direct connections are off."), h.admitDERPClient)
}

// Operation is an operation a running workspace proxy calls, at /api/v2/workspaceproxies/me/PATH with
// its token; errors lists what it may answer besides 401.
func Operation(id, path, summary, desc string, errors ...int) huma.Operation {
	return huma.Operation{OperationID: id, Method: http.MethodPost, Path: "/api/v2/workspaceproxies/me/" + path, Summary: summary,
		Description: "For a workspace proxy, with its token. " + desc, Tags: []string{"Workspace proxies"}, Security: ProxySecurity,
		Errors: append([]int{http.StatusUnauthorized}, errors...), Metadata: map[string]any{"audit": false}}
}

// Proxy is a workspace proxy as listed.
type Proxy struct {
	ID         string     `json:"id" format:"uuid"`
	Name       string     `json:"name"`
	URL        string     `json:"url" doc:"Where users and agents reach it, as its instances registered; empty until one did."`
	Version    string     `json:"version"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	Instances  int        `json:"instances" doc:"Instances running now."`
	Healthy    bool       `json:"healthy" doc:"At least one instance is running."`
	DERP       bool       `json:"derp" doc:"Its instances serve DERP: while healthy it is a region of the DERP map."`
	// DERPRegionID is fixed when the proxy is registered.
	DERPRegionID int `json:"derp_region_id" doc:"Its region's ID in the DERP map (from 10000)."`
}

func toProxy(p dbsqlc.WorkspaceProxy, instances int) Proxy {
	return Proxy{ID: p.ID.String(), Name: p.Name, URL: p.Url, Version: p.Version, CreatedAt: p.CreatedAt, LastSeenAt: p.LastSeenAt,
		Instances: instances, Healthy: instances > 0, DERP: p.DerpEnabled, DERPRegionID: int(p.DerpRegionID)}
}

type createProxyInput struct {
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"32" pattern:"^[a-z0-9][a-z0-9-]*$" doc:"Lowercase letters, digits and dashes, such as eu-west." example:"eu-west"`
	}
}

// CreateProxyOutput is the new proxy and its token.
type CreateProxyOutput struct {
	Body struct {
		Proxy Proxy  `json:"proxy"`
		Token string `json:"token" doc:"The proxy's token (hearth proxy --token-file); it is not shown again."`
	}
}

func (h handlers) create(ctx context.Context, in *createProxyInput) (*CreateProxyOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageProxies); err != nil {
		return nil, err
	}
	key := apikey.New()
	out := &CreateProxyOutput{}
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		p, err := tx.InsertWorkspaceProxy(ctx, dbsqlc.InsertWorkspaceProxyParams{Name: in.Body.Name, TokenID: key.ID, TokenHash: key.SecretHash})
		if db.IsUniqueViolation(err) {
			return huma.Error409Conflict("A workspace proxy named " + in.Body.Name + " exists already.")
		}
		if err != nil {
			return err
		}
		out.Body.Proxy = toProxy(p, 0)
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace_proxy", ID: p.ID.String(), Name: p.Name}, audit.Diff(nil, out.Body.Proxy))
	})
	if err != nil {
		return nil, err
	}
	out.Body.Token = key.Token
	return out, nil
}

// ListProxiesOutput is every proxy.
type ListProxiesOutput struct {
	Body struct {
		Proxies []Proxy `json:"proxies"`
	}
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*ListProxiesOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadProxies); err != nil {
		return nil, err
	}
	rows, err := h.DB.ListWorkspaceProxies(ctx, relay.Fresh.Seconds())
	if err != nil {
		return nil, err
	}
	out := &ListProxiesOutput{}
	out.Body.Proxies = []Proxy{}
	for _, r := range rows {
		out.Body.Proxies = append(out.Body.Proxies, toProxy(r.WorkspaceProxy, int(r.Instances)))
	}
	return out, nil
}

type deleteProxyInput struct {
	Proxy string `path:"proxy" doc:"The proxy's name."`
}

func (h handlers) delete(ctx context.Context, in *deleteProxyInput) (*struct{}, error) {
	if err := authz.Authorize(ctx, authz.ManageProxies); err != nil {
		return nil, err
	}
	return nil, h.DB.InTx(ctx, func(tx db.Tx) error {
		n, err := tx.DeleteWorkspaceProxy(ctx, in.Proxy)
		if err != nil {
			return err
		}
		if n == 0 {
			return huma.Error404NotFound("No workspace proxy " + in.Proxy + ".")
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace_proxy", Name: in.Proxy}, nil)
	})
}

// Authenticate finds the proxy a token belongs to: 401 for a malformed, unknown or wrong one.
func Authenticate(ctx context.Context, d *db.DB, token string) (dbsqlc.WorkspaceProxy, error) {
	id, hash, err := apikey.Parse(token)
	if err != nil {
		return dbsqlc.WorkspaceProxy{}, huma.Error401Unauthorized("Send the workspace proxy's token (hrt_...) as " + TokenHeader + ".")
	}
	p, err := d.GetWorkspaceProxyByTokenID(ctx, id)
	if errors.Is(db.Translate(err), db.ErrNotFound) || err == nil && !apikey.Equal(p.TokenHash, hash) {
		return dbsqlc.WorkspaceProxy{}, huma.Error401Unauthorized("The workspace proxy token is not valid: the proxy was deleted, or the token is another's.")
	}
	return p, err
}

// Instance names a running instance of the calling proxy.
type Instance struct {
	Token string `header:"Hearth-Proxy-Token" doc:"The proxy's token."`
}

type registerProxyInput struct {
	Instance
	Body struct {
		InstanceID uuid.UUID `json:"instance_id" doc:"Chosen by the instance at start, the same in every heartbeat."`
		URL        string    `json:"url" maxLength:"2048" doc:"Where users, agents and server replicas reach this instance." example:"https://eu-west.proxy.example.com"`
		Hostname   string    `json:"hostname,omitempty" maxLength:"255"`
		Version    string    `json:"version,omitempty" maxLength:"64"`
		DERP       bool      `json:"derp,omitempty" doc:"The instance serves DERP at URL/derp; the proxy is a DERP region while one that does is running."`
		STUNPort   int       `json:"stun_port,omitempty" minimum:"0" maximum:"65535" doc:"The UDP port on the URL's host where the instance answers STUN (0: none)."`
	}
}

// RegisterProxyOutput tells the instance how to stay registered.
type RegisterProxyOutput struct {
	Body struct {
		Name             string `json:"name" doc:"The proxy's name."`
		HeartbeatSeconds int    `json:"heartbeat_seconds"`
		DERPRegionID     int    `json:"derp_region_id" doc:"The proxy's region in the DERP map."`
		// DERPMeshKey is a secret: the proxy's own, derived from the deployment's key.
		DERPMeshKey string   `json:"derp_mesh_key,omitempty" doc:"The key the DERP servers of this proxy's instances mesh with; only when the instance serves DERP and direct connections are on."`
		DERPMesh    []string `json:"derp_mesh" doc:"The DERP URLs of the proxy's other running instances, to mesh with."`
	}
}

func (h handlers) register(ctx context.Context, in *registerProxyInput) (*RegisterProxyOutput, error) {
	p, err := Authenticate(ctx, h.DB, in.Token)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(in.Body.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "body.url",
			Message: "must be an http or https URL", Value: in.Body.URL})
	}
	derp := in.Body.DERP && h.Coordinator != nil
	err = h.DB.RegisterProxyInstance(ctx, dbsqlc.RegisterProxyInstanceParams{Url: strings.TrimSuffix(in.Body.URL, "/"), Version: in.Body.Version,
		ProxyID: &p.ID, InstanceID: in.Body.InstanceID, Hostname: in.Body.Hostname, DerpEnabled: derp, StunPort: int32(in.Body.STUNPort)})
	if err != nil {
		return nil, err
	}
	out := &RegisterProxyOutput{}
	out.Body.Name, out.Body.HeartbeatSeconds, out.Body.DERPRegionID = p.Name, int(HeartbeatInterval.Seconds()), int(p.DerpRegionID)
	out.Body.DERPMesh = []string{}
	if derp {
		out.Body.DERPMeshKey = h.MeshKey(p.ID)
		urls, err := h.DB.ListProxyInstanceURLs(ctx, dbsqlc.ListProxyInstanceURLsParams{ProxyID: &p.ID, InstanceID: in.Body.InstanceID,
			FreshSeconds: relay.Fresh.Seconds()})
		if err != nil {
			return nil, err
		}
		for _, u := range urls {
			if u != strings.TrimSuffix(in.Body.URL, "/") { // behind one address, instances cannot reach each other's DERP
				out.Body.DERPMesh = append(out.Body.DERPMesh, u+"/derp")
			}
		}
	}
	return out, nil
}

type admitDERPClientInput struct {
	Instance
	Body struct {
		NodeKey string `json:"node_key" minLength:"1" maxLength:"128" doc:"The client's node key, nodekey:HEX." example:"nodekey:4f3c2a"`
	}
}

// AdmitDERPClientOutput is the answer.
type AdmitDERPClientOutput struct {
	Body struct {
		Allow bool `json:"allow" doc:"Some coordinator serves a node with this key."`
	}
}

func (h handlers) admitDERPClient(ctx context.Context, in *admitDERPClientInput) (*AdmitDERPClientOutput, error) {
	if _, err := Authenticate(ctx, h.DB, in.Token); err != nil {
		return nil, err
	}
	if h.Coordinator == nil {
		return nil, huma.Error404NotFound("Direct connections are off on this deployment (--derp=false): DERP admits no one.")
	}
	ok, err := h.Coordinator.Admit(ctx, in.Body.NodeKey)
	if err != nil {
		return nil, err
	}
	out := &AdmitDERPClientOutput{}
	out.Body.Allow = ok
	return out, nil
}

type deregisterProxyInput struct {
	Instance
	Body struct {
		InstanceID uuid.UUID `json:"instance_id"`
	}
}

func (h handlers) deregister(ctx context.Context, in *deregisterProxyInput) (*struct{}, error) {
	p, err := Authenticate(ctx, h.DB, in.Token)
	if err != nil {
		return nil, err
	}
	return nil, h.DB.StopProxyInstance(ctx, dbsqlc.StopProxyInstanceParams{InstanceID: in.Body.InstanceID, ProxyID: &p.ID})
}

// DERPMapOutput is the published DERP map.
type DERPMapOutput struct {
	Body tailnet.DERPMap
}

func (h handlers) derpMap(ctx context.Context, _ *struct{}) (*DERPMapOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	if h.Coordinator == nil {
		return nil, huma.Error404NotFound("Direct connections are off on this deployment (--derp=false): there is no DERP map.")
	}
	m, err := h.Coordinator.DERPMap(ctx)
	if err != nil {
		return nil, err
	}
	return &DERPMapOutput{Body: m}, nil
}
