package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// bindConfig lets every flag of cmd also be set by the environment (HEARTH_ plus the flag name in
// upper case with - as _) or by a YAML file named by --config (keys are flag names). A flag on the
// command line wins over the environment, which wins over the file.
func bindConfig(cmd *cobra.Command) {
	cmd.Flags().String("config", "", "YAML file of settings, keyed by flag name (env HEARTH_CONFIG)")
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(f.Usage, "(env ") {
			f.Usage += " (env " + envName(f.Name) + ")"
		}
	})
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		fromFile := map[string]any{}
		path, _ := cmd.Flags().GetString("config")
		if !cmd.Flags().Changed("config") {
			path = os.Getenv(envName("config"))
		}
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return usageError{fmt.Errorf("config file: %w", err)}
			}
			if err := yaml.Unmarshal(b, &fromFile); err != nil {
				return usageError{fmt.Errorf("config file %s: %w", path, err)}
			}
		}
		for key := range fromFile {
			if cmd.Flags().Lookup(key) == nil || key == "config" {
				return usageError{fmt.Errorf("config file %s: unknown setting %q (settings are flag names; see --help)", path, key)}
			}
		}
		var err error
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if err != nil || f.Changed || f.Name == "config" {
				return
			}
			if v, ok := os.LookupEnv(envName(f.Name)); ok {
				if e := f.Value.Set(v); e != nil {
					err = usageError{fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)}
				}
				return
			}
			if v, ok := fromFile[f.Name]; ok {
				if list, isList := v.([]any); isList { // a YAML list sets a list flag
					items := make([]string, len(list))
					for i, item := range list {
						items[i] = fmt.Sprint(item)
					}
					v = strings.Join(items, ",")
				}
				if e := f.Value.Set(fmt.Sprint(v)); e != nil {
					err = usageError{fmt.Errorf("config file %s: %s: %w", path, f.Name, e)}
				}
			}
		})
		return err
	}
}

func envName(flag string) string {
	return "HEARTH_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
