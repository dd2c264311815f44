package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// quickstart is the mark of a README shell block that TestTheREADMEQuickStartWorks runs.
const quickstart = "<!-- quickstart -->"

// readmeBlocks are the README's shell blocks marked as the quick start, in order.
func readmeBlocks(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var blocks []string
	rest := string(raw)
	for {
		_, after, ok := strings.Cut(rest, quickstart+"\n```sh\n")
		if !ok {
			return blocks
		}
		block, tail, ok := strings.Cut(after, "\n```")
		require.True(t, ok, "a quick-start block is not closed")
		blocks = append(blocks, block)
		rest = tail
	}
}

// The README's quick start, copied in order, works: its marked blocks run with bash against a
// fresh server made the way go tool task dev makes it, with the binary as bin/hearth on PATH. The
// address is the only thing changed (the test's server listens on a port of its own).
func TestTheREADMEQuickStartWorks(t *testing.T) {
	t.Parallel()
	blocks := readmeBlocks(t)
	require.NotEmpty(t, blocks, "the README marks no quick-start block with %s", quickstart)
	dir := t.TempDir()
	workspaces := filepath.Join(dir, "workspaces")
	// The local template as go tool task dev makes it, its workspaces under this test's directory.
	tpl := filepath.Join(dir, "local")
	require.NoError(t, os.CopyFS(tpl, os.DirFS("../../examples/templates/local")))
	main, err := os.ReadFile(filepath.Join(tpl, "main.tf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tpl, "main.tf"),
		[]byte(strings.Replace(string(main), `default     = "/tmp/hearth-workspaces"`, `default     = "`+workspaces+`"`, 1)), 0o644))
	pg := dbtest.NewURL(t)
	srv := startServer(t, "--postgres-url", pg, "--data-dir", filepath.Join(dir, "server"),
		"--provider-mirror", tftest.Mirror(t), "--template", "local="+tpl)
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.Symlink(binary, filepath.Join(bin, "hearth")))
	// A person reads the output before typing on; the test waits for the template the server makes.
	conn, err := pgx.Connect(context.Background(), pg)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	waitUntil(t, "the local template", func() bool {
		var n int
		return conn.QueryRow(context.Background(), "SELECT count(*) FROM templates WHERE name = 'local' AND deleted_at IS NULL").Scan(&n) == nil && n == 1
	})

	for i, block := range blocks {
		script := "set -euo pipefail\n" + strings.ReplaceAll(block, "http://127.0.0.1:3000", srv.url)
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HEARTH_CONFIG_DIR="+filepath.Join(dir, "cli"))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "README quick-start block %d:\n%s\n--- output:\n%s", i+1, block, out)
		if strings.Contains(block, "hearth ssh dev -- echo hello from the workspace") {
			require.Contains(t, string(out), "hello from the workspace")
		}
	}
}
