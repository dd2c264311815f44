package main

import (
	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/internal/cliconfig"
	"github.com/hearthdev/hearth/internal/connect"
)

// keeperCommand runs the CLI's keeper, which hearth ssh and port-forward start by themselves
// (connect.KeepEnv). It is not for people to run.
func keeperCommand() *cobra.Command {
	var warm string
	cmd := &cobra.Command{
		Use:    connect.KeeperCommand,
		Short:  "Keep the CLI's WireGuard nodes up between commands (started by hearth ssh)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := cliconfig.Load()
			if err != nil {
				return err
			}
			return connect.Keeper(cmd.Context(), s, warm, debugLogger())
		},
	}
	cmd.Flags().StringVar(&warm, "agent", "", "an agent to start a node for at once")
	return cmd
}
