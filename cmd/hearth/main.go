// Command hearth is Hearth's single binary: the server, the provisioner worker, the workspace proxy,
// the agent and the user CLI. This package only parses flags and wires components.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hearthdev/hearth/agent/codercmd"
	"github.com/hearthdev/hearth/internal/buildinfo"
)

// Exit codes: scripts can tell a mistake in the command line from a failure of the command.
const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	if filepath.Base(os.Args[0]) == "coder" {
		// The agent links itself into workspaces' PATH as coder: Coder's in-workspace commands.
		os.Exit(codercmd.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
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
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return checkDurations(cmd) }
	root.AddCommand(loginCommand(), deploymentsCommand(),
		serverCommand(), agentCommand(), provisionerCommand(), proxyCommand(), openapiCommand(), versionCommand(), docsCommand())
	root.AddCommand(clientFlags(logoutCommand(), whoamiCommand(), publickeyCommand(), tokensCommand(),
		createCommand(), listCommand(), showCommand(),
		buildCommand("start", "Start a workspace and wait until it runs", []string{"start"}, false),
		buildCommand("stop", "Stop a workspace and wait until it has stopped", []string{"stop"}, false),
		buildCommand("restart", "Stop and start a workspace", []string{"stop", "start"}, false),
		buildCommand("update", "Rebuild a workspace on its template's active version", []string{"start"}, true),
		deleteCommand(), logsCommand(), scheduleCommand(), templatesCommand(), modulesCommand(), usersCommand(), groupsCommand(), externalAuthCommand(), sharingCommand(), quotaCommand(), doctorCommand(), provisionersCommand(), proxiesCommand(), openCommand(),
		sshCommand(), configSSHCommand(), portForwardCommand(), pingCommand(), speedtestCommand(), netcheckCommand())...)
	root.AddCommand(keeperCommand())
	root.InitDefaultCompletionCmd()
	addExamples(root)
	return root
}

// maxDuration is the longest any duration flag may be: longer is a typo (an hour given as 1h0000m).
const maxDuration = 10 * 365 * 24 * time.Hour

// checkDurations refuses, for every command, a duration flag given a negative or absurd value:
// none of them means anything below zero, and taking one silently as "the default" would do what
// the user did not ask for.
func checkDurations(cmd *cobra.Command) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err != nil || f.Value.Type() != "duration" {
			return
		}
		d, perr := time.ParseDuration(f.Value.String())
		switch {
		case perr != nil:
		case d < 0:
			err = usageError{fmt.Errorf("--%s %s: a duration cannot be negative", f.Name, f.Value)}
		case d > maxDuration:
			err = usageError{fmt.Errorf("--%s %s: at most %s (10 years)", f.Name, f.Value, maxDuration)}
		}
	})
	return err
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
