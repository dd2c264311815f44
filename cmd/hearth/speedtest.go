package main

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/tailnet"
)

func speedtestCommand() *cobra.Command {
	var d time.Duration
	cmd := &cobra.Command{
		Use:   "speedtest [OWNER/]WORKSPACE[.AGENT]",
		Short: "Measure throughput to and from a workspace over WireGuard",
		Long: "Sends to the agent for --time, then receives from it for as long, over the WireGuard path (direct or DERP), " +
			"and prints the rates and the path at the end (the first moments of a connection may go through DERP).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if d <= 0 || d > tailnet.MaxSpeedtest {
				return usageError{fmt.Errorf("--time %s: want more than 0 and at most %s", d, tailnet.MaxSpeedtest)}
			}
			s, t, err := target(ctx, args[0])
			if err != nil {
				return err
			}
			id, err := uuid.Parse(t.AgentID)
			if err != nil {
				return err
			}
			tn, err := connect.OpenTailnet(ctx, s, id, debugLogger())
			if err != nil {
				return fmt.Errorf("no WireGuard path to %s (a speed test needs one): %w", t.Workspace, err)
			}
			defer tn.Close()
			if _, err := tn.Ping(ctx); err != nil {
				return fmt.Errorf("no WireGuard path to %s (a speed test needs one): %w", t.Workspace, err)
			}
			out := cmd.OutOrStdout()
			for _, dir := range []byte{'u', 'd'} {
				conn, err := tn.Dial(ctx, tailnet.PortSpeedtest)
				if err != nil {
					return err
				}
				sp, err := tailnet.Speedtest(conn, dir, d)
				if err != nil {
					return err
				}
				name := "Upload"
				if dir == 'd' {
					name = "Download"
				}
				fmt.Fprintf(out, "%-9s %.1f Mbit/s (%d MB in %s)\n", name+":", sp.Mbps(), sp.Bytes>>20, sp.Elapsed.Round(time.Millisecond))
			}
			if pong, err := tn.Ping(ctx); err == nil {
				fmt.Fprintln(out, "Path now:", describePong(t.Workspace, pong))
			}
			return nil
		},
	}
	cmd.Flags().DurationVarP(&d, "time", "t", 5*time.Second, "how long each direction runs")
	return cmd
}
