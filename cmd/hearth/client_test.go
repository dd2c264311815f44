package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// lister is a Go program of another module that lists a deployment's templates with the client.
const lister = `package main

import (
	"context"
	"fmt"
	"os"

	"github.com/hearthdev/hearth/client"
)

func main() {
	c, err := client.Dial(os.Getenv("HEARTH_URL"), os.Getenv("HEARTH_TOKEN"), "lister")
	if err != nil {
		panic(err)
	}
	res, err := client.Ok(c.ListTemplatesWithResponse(context.Background()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, t := range res.JSON200.Templates {
		fmt.Println(t.Name)
	}
}
`

// The Go client is importable by programs outside this module: one, built with go build against
// this checkout, lists a real server's templates.
func TestTheClientIsImportableFromAnotherModule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "1", "--provider-mirror", tftest.Mirror(t),
		"--template", "local=../../examples/templates/local")
	_, token := signIn(t, srv.url, filepath.Join(dir, "cli"))
	waitUntil(t, "the local template", func() bool {
		return strings.Contains(mustJSON(t, callAPI(t, "GET", srv.url+"/api/v2/templates", token, "application/json", nil)), `"local"`)
	})

	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	mod := filepath.Join(dir, "lister")
	require.NoError(t, os.MkdirAll(mod, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "main.go"), []byte(lister), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/lister\n\ngo 1.26\n\n"+
		"require github.com/hearthdev/hearth v0.0.0\n\nreplace github.com/hearthdev/hearth => "+repo+"\n"), 0o644))
	goCmd := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "HEARTH_URL="+srv.url, "HEARTH_TOKEN="+token, "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %v: %s", args, out)
		return string(out)
	}
	goCmd("mod", "tidy")
	require.Equal(t, "local\n", goCmd("run", "."))
}
