package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// hearth create takes a template's default preset unless told otherwise, --preset NAME another, and
// refuses an unknown preset or a value that contradicts the chosen one, naming the presets.
func TestCreateWithPresets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "1",
		"--provider-mirror", tftest.Mirror(t))
	c, _ := signIn(t, srv.url, filepath.Join(dir, "cli"))
	_, errOut, code := c.run("", "templates", "push", "../../api/testdata/presets", "--name", "presets")
	require.Equal(t, 0, code, errOut)

	params := func(ws string) map[string]string {
		out, _, code := c.run("", "show", ws, "-o", "json")
		require.Equal(t, 0, code)
		var w struct {
			LatestBuild struct {
				Parameters []struct{ Name, Value string }
			} `json:"latest_build"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &w))
		m := map[string]string{}
		for _, p := range w.LatestBuild.Parameters {
			m[p.Name] = p.Value
		}
		return m
	}
	_, errOut, code = c.run("", "create", "a", "-t", "presets")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "Using preset Small in America, the template's default")
	require.Equal(t, map[string]string{"size": "2", "region": "us"}, params("a"))

	_, errOut, code = c.run("", "create", "b", "-t", "presets", "--preset", "Big")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, map[string]string{"size": "8", "region": "eu"}, params("b"))

	_, errOut, code = c.run("", "create", "c", "-t", "presets", "--preset", "none", "-p", "size=3")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, map[string]string{"size": "3", "region": "eu"}, params("c"))

	_, errOut, code = c.run("", "create", "d", "-t", "presets", "--preset", "Huge")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `no preset "Huge": the template's presets are Big, Small in America`)
	_, errOut, code = c.run("", "create", "d", "-t", "presets", "--preset", "Big", "-p", "size=4")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `preset Big sets size to "8": drop --parameter size or choose --preset none`)
}

// hearth create checks values against the options the other values allow (dynamic parameters),
// before anything is submitted.
func TestCreateWithDynamicParameters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "1",
		"--provider-mirror", tftest.Mirror(t))
	c, _ := signIn(t, srv.url, filepath.Join(dir, "cli"))
	_, errOut, code := c.run("", "templates", "push", "../../api/testdata/dynamic", "--name", "dynamic")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = c.run("", "create", "x", "-t", "dynamic", "-p", "cloud=gcp", "-p", "region=us-east-1")
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, `parameter region: "us-east-1" is not one of europe-west4`)
	_, errOut, code = c.run("", "create", "x", "-t", "dynamic", "-p", "cloud=gcp", "-p", "region=europe-west4")
	require.Equal(t, 0, code, errOut)
}
