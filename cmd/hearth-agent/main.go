// Command hearth-agent is the workspace agent alone: what workspaces' init scripts download and run.
// It holds none of the server (no database, job queue or HTTP API framework), so it is a fraction of
// hearth's size. Called as `coder` (the agent links it so into CODER_SCRIPT_BIN_DIR), it is the
// in-workspace coder command that Coder's templates call.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hearthdev/hearth/agent"
	"github.com/hearthdev/hearth/agent/codercmd"
	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/logging"
)

func main() {
	if filepath.Base(os.Args[0]) == "coder" {
		os.Exit(codercmd.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "agent" { // the init script's form, which hearth itself answers too
		args = args[1:]
	}
	if err := run(args); err != nil {
		fmt.Fprintln(os.Stderr, "hearth-agent:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("hearth-agent", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: hearth-agent [flags]

Runs the Hearth workspace agent. Its token comes from CODER_AGENT_TOKEN (as Coder templates set it)
or HEARTH_AGENT_TOKEN, or --token-file; the server's URL from --url, HEARTH_AGENT_URL or
CODER_AGENT_URL. With HEARTH_AGENT_EXIT_WITH_DIR set, it stops once that directory is gone.

`)
		fs.PrintDefaults()
	}
	url := fs.String("url", "", "the Hearth server's access URL")
	tokenFile := fs.String("token-file", "", "file holding the agent token")
	format := fs.String("log-format", "text", "log format: text or json")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *version {
		fmt.Println("hearth-agent", buildinfo.Version())
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see --help", fs.Args())
	}
	log, err := logging.New(os.Stderr, *format, *level)
	if err != nil {
		return err
	}
	cfg := agent.Config{Logger: log, URL: firstOf(*url, os.Getenv("HEARTH_AGENT_URL"), os.Getenv("CODER_AGENT_URL")),
		ExitWithDir: os.Getenv(agent.ExitWithDirEnv)}
	if cfg.URL == "" {
		return errors.New("--url (or HEARTH_AGENT_URL, CODER_AGENT_URL) is required")
	}
	cfg.Token = firstOf(os.Getenv("HEARTH_AGENT_TOKEN"), os.Getenv("CODER_AGENT_TOKEN"))
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return err
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	if cfg.Token == "" {
		return errors.New("no agent token: set CODER_AGENT_TOKEN or HEARTH_AGENT_TOKEN, or pass --token-file")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return agent.Run(ctx, cfg)
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
