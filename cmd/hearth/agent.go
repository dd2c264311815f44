package main

import (
	"errors"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hearthdev/hearth/agent"
)

func agentCommand() *cobra.Command {
	var (
		cfg       agent.Config
		tokenFile string
		logs      *logFlags
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the workspace agent (inside a workspace)",
		Long: `Run the agent inside a workspace. Templates start it through the coder_agent's init_script,
which downloads this binary from the server and runs it.

The agent's token comes from CODER_AGENT_TOKEN (as Coder templates set it) or HEARTH_AGENT_TOKEN,
or --token-file; the server's URL from --url, HEARTH_AGENT_URL or CODER_AGENT_URL. With
HEARTH_AGENT_EXIT_WITH_DIR set (the local template sets it to the workspace's directory), it stops
once that directory is gone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.URL = firstOf(cfg.URL, os.Getenv("HEARTH_AGENT_URL"), os.Getenv("CODER_AGENT_URL"))
			if cfg.URL == "" {
				return usageError{errors.New("--url (or HEARTH_AGENT_URL, CODER_AGENT_URL) is required")}
			}
			cfg.Token = firstOf(os.Getenv("HEARTH_AGENT_TOKEN"), os.Getenv("CODER_AGENT_TOKEN"))
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return usageError{err}
				}
				cfg.Token = strings.TrimSpace(string(b))
			}
			if cfg.Token == "" {
				return usageError{errors.New("no agent token: set CODER_AGENT_TOKEN or HEARTH_AGENT_TOKEN, or pass --token-file")}
			}
			cfg.ExitWithDir = os.Getenv(agent.ExitWithDirEnv)
			return agent.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", "", "the Hearth server's access URL")
	f.StringVar(&tokenFile, "token-file", "", "file holding the agent token")
	logs = addLogFlags(f)
	// No bindConfig: inside a workspace HEARTH_URL and friends are the developer's CLI settings.
	return cmd
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
