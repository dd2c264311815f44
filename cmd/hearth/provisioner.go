package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	worker "github.com/hearthdev/hearth/provisioner-worker"
)

func provisionerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "provisioner", Short: "Run an external provisioner worker"}
	var (
		cfg           worker.Config
		keyFile       string
		tags          []string
		terraformPath string
		logs          *logFlags
	)
	start := &cobra.Command{
		Use:   "start",
		Short: "Take provisioner jobs from a Hearth server and run Terraform for them",
		Long: `Take provisioner jobs from the server at --url and run them, until interrupted.

The worker authenticates with a pre-shared key the server accepts (--psk-file, or HEARTH_PROVISIONER_PSK).
It takes jobs whose tags it all has (--tag key=value, repeatable): a job tagged region=eu goes only to
workers with region=eu (they may have more tags); untagged jobs go only to untagged workers.`,
		Example: `  HEARTH_PROVISIONER_PSK=... hearth provisioner start --url https://hearth.example.com --tag region=eu`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			cfg.Logger = log
			if cfg.URL == "" {
				return usageError{errors.New("--url is required")}
			}
			urls := strings.Split(cfg.URL, ",")
			for i, u := range urls {
				if urls[i], err = deploymentURL(strings.TrimSpace(u)); err != nil {
					return usageError{err}
				}
			}
			cfg.URL, cfg.Fallback = urls[0], urls[1:]
			if cfg.Key, err = secretFrom(keyFile, cfg.Key); err != nil {
				return err
			}
			if cfg.Key == "" {
				return usageError{errors.New("a pre-shared key is required: --psk-file or HEARTH_PROVISIONER_PSK")}
			}
			cfg.Tags = map[string]string{}
			for _, t := range tags {
				k, v, ok := strings.Cut(t, "=")
				if !ok || k == "" || strings.ContainsAny(k+v, "=,") {
					return usageError{fmt.Errorf("--tag %q: want key=value", t)}
				}
				cfg.Tags[k] = v
			}
			if cfg.Name == "" {
				cfg.Name, _ = os.Hostname()
			}
			if cfg.Runner.Terraform, err = worker.FindTerraform(cmd.Context(), terraformPath); err != nil {
				return err
			}
			log.Info("provisioner worker started", "url", cfg.URL, "name", cfg.Name, "tags", cfg.Tags, "concurrency", cfg.Concurrency)
			return worker.Run(cmd.Context(), cfg)
		},
	}
	f := start.Flags()
	f.StringVar(&cfg.URL, "url", "", "the Hearth server's URL; several replicas' URLs, separated by commas, to move to the next when one is unreachable")
	f.StringVar(&keyFile, "psk-file", "", "file holding the pre-shared key (the first line)")
	f.StringVar(&cfg.Key, "provisioner-psk", "", "the pre-shared key; prefer HEARTH_PROVISIONER_PSK or --psk-file, since flags show in the process list")
	f.StringArrayVar(&tags, "tag", nil, "a tag, key=value (repeatable)")
	f.StringVar(&cfg.Name, "name", "", "the worker's name (default the host name)")
	f.IntVar(&cfg.Concurrency, "concurrency", 1, "jobs to run at once")
	f.StringVar(&terraformPath, "terraform-path", "", "terraform binary (default: terraform on PATH); 1.4 or newer")
	f.StringSliceVar(&cfg.Runner.Mirrors, "provider-mirror", nil, "Terraform provider filesystem mirrors, searched in order (comma-separated or repeated; see go tool task providers)")
	f.BoolVar(&cfg.Runner.Direct, "provider-direct", false, "install providers that no mirror has from their registries (a worker with internet access); without it, with a mirror, every provider must be in one")
	var offline bool
	f.BoolVar(&offline, "offline", false, "the old way of saying: without --provider-direct (now the default)")
	_ = f.MarkDeprecated("offline", "it is the default now; --provider-direct allows registries")
	f.StringVar(&cfg.Runner.WorkDir, "work-dir", "", "the worker's own directory: job directories and results not yet delivered (default TMPDIR/hearth-provisioner/NAME); one per worker")
	logs = addLogFlags(f)
	bindConfig(start)
	cmd.AddCommand(start)
	return cmd
}

// secretFrom is the first line of file when one is named, else value: a key or token given as a file
// (--psk-file, --token-file) or as a flag or environment variable.
func secretFrom(file, value string) (string, error) {
	if file == "" {
		return value, nil
	}
	keys, err := readKeys(file, nil)
	if err != nil {
		return "", usageError{err}
	}
	if len(keys) == 0 {
		return "", nil
	}
	return keys[0], nil
}
