package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/tailnet"
)

func netcheckCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netcheck",
		Short: "Say what this network allows for direct connections: UDP, the NAT, DERP latencies",
		Long: "Probes the deployment's STUN and DERP servers (its DERP map) from this machine: whether UDP gets through, " +
			"this machine's public address, whether its NAT maps each destination to another port (which makes direct paths unlikely) " +
			"and the round trip to each DERP region.",
		Args: cobra.NoArgs,
	}
	format := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, s, err := session()
		if err != nil {
			return err
		}
		res, err := client.Ok(c.GetDerpMapWithResponse(cmd.Context()))
		if err != nil {
			return remote(s.URL, err)
		}
		m := tailnet.DERPMap{}
		for _, r := range res.JSON200.Regions {
			m.Regions = append(m.Regions, tailnet.Region{ID: int(r.Id), Code: r.Code, Name: r.Name, URL: r.Url, STUNPort: int(r.StunPort)})
		}
		r, err := tailnet.Netcheck(cmd.Context(), m, debugLogger())
		if err != nil {
			return err
		}
		return render(cmd, *format, r, func(w io.Writer, _ bool) {
			fmt.Fprintf(w, "UDP:\t%s\n", yesNo(r.UDP))
			fmt.Fprintf(w, "IPv4:\t%s\n", orNone(r.PublicIPv4))
			fmt.Fprintf(w, "IPv6:\t%s\n", yesNo(r.IPv6))
			nat := "unknown"
			if v := r.MappingVariesByDestIP; v != nil {
				nat = "easy (one public port for every destination)"
				if *v {
					nat = "hard (a port per destination: direct paths are unlikely, DERP carries them)"
				}
			}
			fmt.Fprintf(w, "NAT:\t%s\n", nat)
			fmt.Fprintf(w, "Nearest DERP:\t%s\n", orNone(strconv.Itoa(r.PreferredDERP)))
			for _, l := range r.DERPLatency {
				fmt.Fprintf(w, "DERP %d (%s):\t%s\n", l.ID, l.Code, l.Latency.Round(10*time.Microsecond))
			}
		})
	}
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" || s == "0" {
		return "none"
	}
	return s
}
