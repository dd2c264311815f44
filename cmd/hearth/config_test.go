package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// Precedence: flag, then environment, then the YAML file, then the default.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hearth.yaml")
	require.NoError(t, os.WriteFile(file, []byte("a: from-file\nb: from-file\nc: from-file\nlist: [x, y]\n"), 0o600))
	t.Setenv("HEARTH_B", "from-env")
	t.Setenv("HEARTH_C", "from-env")
	var a, b, c, d string
	var list []string
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	cmd.Flags().StringSliceVar(&list, "list", []string{"default"}, "")
	cmd.Flags().StringVar(&a, "a", "default", "")
	cmd.Flags().StringVar(&b, "b", "default", "")
	cmd.Flags().StringVar(&c, "c", "default", "")
	cmd.Flags().StringVar(&d, "d", "default", "")
	bindConfig(cmd)
	cmd.SetArgs([]string{"--config", file, "--c", "from-flag"})
	require.NoError(t, cmd.Execute())
	require.Equal(t, []string{"from-file", "from-env", "from-flag", "default"}, []string{a, b, c, d})
	require.Equal(t, []string{"x", "y"}, list, "a YAML list sets a list flag")
	require.Contains(t, cmd.Flags().Lookup("a").Usage, "(env HEARTH_A)")
}

func TestConfigFileWithUnknownSettingIsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hearth.yaml")
	require.NoError(t, os.WriteFile(file, []byte("http-addr: 1.2.3.4:5\n"), 0o600))
	cmd := serverCommand()
	cmd.SetArgs([]string{"--config", file})
	err := cmd.Execute()
	require.ErrorContains(t, err, `unknown setting "http-addr"`)
	var ue usageError
	require.ErrorAs(t, err, &ue)
}
