package tailnet

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"

	"tailscale.com/envknob"
	"tailscale.com/tailcfg"
)

// Region is one DERP region of the map: a server deployment's replicas (each serving DERP at
// /derp on its HTTP listener, meshed), or a workspace proxy.
type Region struct {
	ID   int    `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
	// URL is where its DERP servers listen (the access URL; /derp is added).
	URL string `json:"url"`
	// STUNPort is the UDP port of its STUN server (0: none; -1 leaves the DERP server's own out).
	STUNPort int `json:"stun_port"`
}

// DERPMap is what the control plane publishes: the regions nodes may use.
type DERPMap struct {
	Regions []Region `json:"regions"`
	// OmitDefaultRegions drops the built-in regions when an operator's own map is merged in.
	OmitDefaultRegions bool `json:"omit_default_regions,omitempty"`
}

var derpOverHTTP sync.Once

// Tailscale turns the map into tailscale's form. A region served over plain HTTP (a development
// server on loopback) makes this process speak DERP over HTTP: WireGuard still encrypts every
// packet end to end, but the DERP handshake is in the clear, so deployments use HTTPS.
func (m DERPMap) Tailscale() (*tailcfg.DERPMap, error) {
	dm := &tailcfg.DERPMap{Regions: map[int]*tailcfg.DERPRegion{}, OmitDefaultRegions: m.OmitDefaultRegions}
	for _, r := range m.Regions {
		u, err := url.Parse(r.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("tailnet: DERP region %d: %q is not a URL", r.ID, r.URL)
		}
		port := 443
		switch u.Scheme {
		case "http":
			port = 80
			// Once: tailscale's DERP clients read the knob unguarded, so setting it again while a
			// node runs would race with them (the first map comes before any node starts).
			derpOverHTTP.Do(func() { envknob.Setenv("TS_DEBUG_USE_DERP_HTTP", "true") })
		case "https":
		default:
			return nil, fmt.Errorf("tailnet: DERP region %d: %q is neither http nor https", r.ID, r.URL)
		}
		if p := u.Port(); p != "" {
			port, _ = strconv.Atoi(p)
		}
		host := u.Hostname()
		node := &tailcfg.DERPNode{Name: fmt.Sprintf("%da", r.ID), RegionID: r.ID, HostName: host, DERPPort: port, STUNPort: r.STUNPort}
		if r.STUNPort == 0 {
			node.STUNPort = -1
		}
		if ip := net.ParseIP(host); ip != nil {
			if ip.To4() != nil {
				node.IPv4, node.IPv6 = host, "none"
			} else {
				node.IPv6, node.IPv4 = host, "none"
			}
		}
		dm.Regions[r.ID] = &tailcfg.DERPRegion{RegionID: r.ID, RegionCode: r.Code, RegionName: r.Name, Nodes: []*tailcfg.DERPNode{node}}
	}
	return dm, nil
}
