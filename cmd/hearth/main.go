// Command hearth is Hearth's single binary: the server, the provisioner worker, the workspace proxy,
// the agent and the user CLI. This package only parses flags and wires components.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/internal/buildinfo"
)

// Exit codes: scripts can tell a mistake in the command line from a failure of the command.
const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := rootCommand()
	if err := root.ExecuteContext(ctx); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			stop()
			os.Exit(int(code)) //nolint:gocritic // nothing left to clean up
		}
		fmt.Fprintln(os.Stderr, "hearth: "+err.Error())
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(exitUsage)
		}
		os.Exit(exitFailure)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "hearth",
		Short:         "Hearth: self-hosted remote development environments",
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(loginCommand(), deploymentsCommand(),
		serverCommand(), agentCommand(), provisionerCommand(), proxyCommand(), openapiCommand(), versionCommand(), docsCommand())
	root.AddCommand(clientFlags(logoutCommand(), whoamiCommand(), tokensCommand(),
		createCommand(), listCommand(), showCommand(),
		buildCommand("start", "Start a workspace and wait until it runs", []string{"start"}, false),
		buildCommand("stop", "Stop a workspace and wait until it has stopped", []string{"stop"}, false),
		buildCommand("restart", "Stop and start a workspace", []string{"stop", "start"}, false),
		buildCommand("update", "Rebuild a workspace on its template's active version", []string{"start"}, true),
		deleteCommand(), logsCommand(), scheduleCommand(), templatesCommand(), usersCommand(), provisionersCommand(), proxiesCommand(), openCommand(),
		sshCommand(), configSSHCommand(), portForwardCommand())...)
	return root
}

// usageError marks a mistake in how a command was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), buildinfo.Version())
		},
	}
}
