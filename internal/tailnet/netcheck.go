package tailnet

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"tailscale.com/net/netcheck"
	"tailscale.com/net/netmon"
)

// NetReport is what this machine's network allows, as far as the tailnet cares.
type NetReport struct {
	UDP bool `json:"udp"`
	// PublicIPv4 is this machine's address as the STUN servers saw it ("" without an answer).
	PublicIPv4 string `json:"public_ipv4,omitempty"`
	IPv6       bool   `json:"ipv6"`
	// MappingVariesByDestIP is true behind a NAT that maps each destination to another port (a
	// "hard" NAT: direct paths are then unlikely), false behind an easy one, nil when unknown.
	MappingVariesByDestIP *bool `json:"mapping_varies_by_dest_ip,omitempty"`
	PreferredDERP         int   `json:"preferred_derp"`
	// DERPLatency is the round trip to each region, by code.
	DERPLatency []RegionLatency `json:"derp_latency"`
}

// RegionLatency is one region's round trip.
type RegionLatency struct {
	ID      int           `json:"id"`
	Code    string        `json:"code"`
	Latency time.Duration `json:"latency_ns"`
}

// Netcheck probes the network against the DERP map's STUN and DERP servers.
func Netcheck(ctx context.Context, m DERPMap, log *slog.Logger) (*NetReport, error) {
	dm, err := m.Tailscale()
	if err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...), "component", "netcheck") }
	c := &netcheck.Client{NetMon: netmon.NewStatic(), Logf: logf}
	if err := c.Standalone(ctx, ":0"); err != nil {
		return nil, fmt.Errorf("tailnet: netcheck: %w", err)
	}
	r, err := c.GetReport(ctx, dm, nil)
	if err != nil {
		return nil, fmt.Errorf("tailnet: netcheck: %w", err)
	}
	out := &NetReport{UDP: r.UDP, IPv6: r.IPv6, PreferredDERP: r.PreferredDERP}
	if r.GlobalV4.IsValid() {
		out.PublicIPv4 = r.GlobalV4.String()
	}
	if v, ok := r.MappingVariesByDestIP.Get(); ok {
		out.MappingVariesByDestIP = &v
	}
	for id, l := range r.RegionLatency {
		code := ""
		if reg := dm.Regions[id]; reg != nil {
			code = reg.RegionCode
		}
		out.DERPLatency = append(out.DERPLatency, RegionLatency{ID: id, Code: code, Latency: l})
	}
	slices.SortFunc(out.DERPLatency, func(a, b RegionLatency) int { return cmp.Compare(a.Latency, b.Latency) })
	return out, nil
}
