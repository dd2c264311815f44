package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/internal/cliconfig"
	"github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/tailnet"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// debugLogger is the tailnet's logger: silent unless HEARTH_DEBUG_TAILNET is set.
func debugLogger() *slog.Logger {
	if os.Getenv("HEARTH_DEBUG_TAILNET") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func pingCommand() *cobra.Command {
	var count int
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "ping [OWNER/]WORKSPACE[.AGENT]",
		Short: "Say how connections reach a workspace: directly, through DERP or through the relay, and how fast",
		Long: "Pings the workspace's agent over WireGuard and prints, for each pong, the path it took (direct, with the agent's " +
			"endpoint; DERP, with the region) and the round trip. Without any WireGuard path it times a round trip through " +
			"the control plane's relay instead. Direct paths usually take a few pings to appear.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, t, err := target(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			id, err := uuid.Parse(t.AgentID)
			if err != nil {
				return err
			}
			var tn *connect.Tailnet
			if os.Getenv(connect.PathEnv) != "relay" {
				tn, err = connect.OpenTailnet(ctx, s, id, debugLogger())
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "No WireGuard path (%v): pinging through the relay.\n", err)
				} else {
					defer tn.Close()
				}
			}
			for i := range count {
				if i > 0 {
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(wait):
					}
				}
				if tn != nil {
					pong, err := tn.Ping(ctx)
					if err == nil {
						fmt.Fprintln(out, describePong(t.Workspace, pong))
						continue
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "No WireGuard pong (%v): this one goes through the relay.\n", err)
				}
				rtt, err := relayRoundTrip(cmd, s, t.AgentID)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "pong from %s via relay in %s\n", t.Workspace, rtt.Round(10*time.Microsecond))
			}
			return nil
		},
	}
	cmd.Flags().IntVarP(&count, "count", "n", 5, "how many pings")
	cmd.Flags().DurationVar(&wait, "interval", 500*time.Millisecond, "time between pings")
	return cmd
}

func describePong(workspace string, p tailnet.Pong) string {
	rtt := p.Latency.Round(10 * time.Microsecond)
	if p.Path == tailnet.PathDirect {
		return fmt.Sprintf("pong from %s via direct %s in %s", workspace, p.Endpoint, rtt)
	}
	return fmt.Sprintf("pong from %s via DERP(%s) in %s", workspace, p.DERPRegionCode, rtt)
}

// relayRoundTrip times a connection through the relay to the agent's SSH server, up to its banner.
func relayRoundTrip(cmd *cobra.Command, s cliconfig.Session, agentID string) (time.Duration, error) {
	start := time.Now()
	conn, err := connect.Dial(cmd.Context(), s, agentID, tunnel.KindSSH, 0)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close() }()
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		return 0, fmt.Errorf("the agent's SSH server did not answer through the relay: %w", err)
	}
	return time.Since(start), nil
}
