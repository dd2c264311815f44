package tailnet

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"tailscale.com/net/netmon"
)

// EndpointsEnv limits the networks direct paths may use on this machine (CIDR prefixes,
// comma-separated), over the deployment's setting: for hosts where peers can only be on some
// networks, and for tests, which must keep every packet on loopback.
const EndpointsEnv = "HEARTH_TAILNET_ENDPOINTS"

// ParseNetworks reads a list of CIDR prefixes, naming the first that is not one.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, f := range list {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network in CIDR form (such as 198.51.100.0/24 or 2001:db8::/32)", f)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

// endpointNets are the networks endpoints must be in (none: any). They are the process's: every
// node of a process belongs to one deployment.
var endpointNets atomic.Pointer[[]netip.Prefix]

// The interface lister is a global of tailscale's that running nodes read: it is set once, before
// any node starts, and hides nothing until limitEndpoints sets networks.
func init() { netmon.RegisterInterfaceGetter(allowedInterfaces) }

// limitEndpoints sets the networks direct paths may use: the environment's, else the
// deployment's. Limited, the interfaces' other addresses are hidden from the WireGuard engine as
// well, so it never advertises them, in the coordinator or in the call-me-maybe messages that
// peers exchange through DERP to start hole punching.
func limitEndpoints(deployment []netip.Prefix) {
	nets := deployment
	if env := os.Getenv(EndpointsEnv); env != "" {
		if ps, err := ParseNetworks(strings.Split(env, ",")); err == nil {
			nets = ps
		}
	}
	if len(nets) == 0 {
		return
	}
	endpointNets.Store(&nets)
}

// allowedInterfaces lists the machine's interfaces with only their addresses in endpointNets (all
// of them while no networks are set).
func allowedInterfaces() ([]netmon.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	limited := endpointNets.Load() != nil
	out := make([]netmon.Interface, 0, len(ifs))
	for i := range ifs {
		if !limited {
			out = append(out, netmon.Interface{Interface: &ifs[i]}) // no AltAddrs: ask the interface
			continue
		}
		addrs, err := ifs[i].Addrs()
		if err != nil {
			return nil, err
		}
		kept := []net.Addr{} // not nil: nil would mean "ask the interface"
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && allowedEndpoint(ip) {
					kept = append(kept, a)
				}
			}
		}
		out = append(out, netmon.Interface{Interface: &ifs[i], AltAddrs: kept})
	}
	return out, nil
}

// allowedEndpoint reports whether an endpoint address may be advertised or tried.
func allowedEndpoint(a netip.Addr) bool {
	nets := endpointNets.Load()
	if nets == nil {
		return true
	}
	for _, p := range *nets {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
