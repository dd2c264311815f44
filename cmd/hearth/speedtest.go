package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/tailnet"
)

func speedtestCommand() *cobra.Command {
	var d, directWait time.Duration
	cmd := &cobra.Command{
		Use:   "speedtest [OWNER/]WORKSPACE[.AGENT]",
		Short: "Measure throughput to and from a workspace over WireGuard",
		Long: "Waits up to --direct-wait for a direct path (a new node's first packets go through DERP), prints the path, " +
			"then sends to the agent for --time and receives from it for as long, and prints the rates and the path at the end. " +
			"Without a direct path by then it measures through DERP and says so.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if d <= 0 || d > tailnet.MaxSpeedtest {
				return usageError{fmt.Errorf("--time %s: want more than 0 and at most %s", d, tailnet.MaxSpeedtest)}
			}
			if directWait < 0 || directWait > time.Minute {
				return usageError{fmt.Errorf("--direct-wait %s: want 0 (do not wait) up to 1m", directWait)}
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
			pong, err := awaitDirect(ctx, tn, directWait)
			if err != nil {
				return fmt.Errorf("no WireGuard path to %s (a speed test needs one): %w", t.Workspace, err)
			}
			out := cmd.OutOrStdout()
			if pong.Path == tailnet.PathDirect {
				fmt.Fprintf(out, "Path:     direct to %s\n", pong.Endpoint)
			} else {
				fmt.Fprintf(out, "Path:     DERP(%s): no direct path after %s, so this measures DERP\n", pong.DERPRegionCode, directWait)
			}
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
	cmd.Flags().DurationVar(&directWait, "direct-wait", 3*time.Second, "how long to wait for a direct path before measuring (0: measure at once)")
	return cmd
}

// awaitDirect pings the agent until a pong comes over a direct path or wait has passed, and
// returns the last pong. A node's first pongs come through DERP while the two sides still try
// each other's endpoints; measuring then would measure DERP and call it the connection's speed.
func awaitDirect(ctx context.Context, tn *connect.Tailnet, wait time.Duration) (tailnet.Pong, error) {
	deadline := time.Now().Add(wait)
	for {
		pong, err := tn.Ping(ctx)
		if err != nil || pong.Path == tailnet.PathDirect || !time.Now().Before(deadline) {
			return pong, err
		}
		select {
		case <-ctx.Done():
			return pong, nil
		case <-time.After(min(100*time.Millisecond, time.Until(deadline))):
		}
	}
}
