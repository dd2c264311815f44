package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/netlab"
)

// cli runs the real binary as a user would, with its own config directory.
type cli struct {
	t   testing.TB
	dir string
	env []string
	ns  *netlab.Namespace // where it runs: this machine's network unless set
}

func (c cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := exec.Command(binary, args...)
	if c.ns != nil {
		cmd = c.ns.Command(binary, args...)
	}
	cmd.Env = append(append(os.Environ(), "HEARTH_CONFIG_DIR="+c.dir), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code = 0
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(c.t, err, &ee)
		code = ee.ExitCode()
	}
	return out.String(), errOut.String(), code
}

func status(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "GET", url+"/api/v2/users/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

// The walk the issue describes: set up the first user with the CLI, make a token, use it, revoke it.
func TestFirstUserTokenAndRevocationWithTheCLI(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", t.TempDir())
	c := cli{t: t, dir: t.TempDir()}

	out, errOut, code := c.run("", "login", srv.url, "--first-user-username", "ada", "--first-user-email", "ada@example.com",
		"--first-user-password", "correct-horse")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Created ada")
	require.Contains(t, out, "Signed in to "+srv.url+" as ada")
	fi, err := os.Stat(filepath.Join(c.dir, "config.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	out, _, code = c.run("", "whoami")
	require.Equal(t, 0, code)
	require.Equal(t, "ada <ada@example.com> on "+srv.url+" (owner)\n", out)

	token, errOut, code := c.run("", "tokens", "create", "ci", "--lifetime", "1h")
	require.Equal(t, 0, code, errOut)
	token = strings.TrimSpace(token)
	require.True(t, strings.HasPrefix(token, "hrt_"), token)
	require.Contains(t, errOut, "cannot be shown again")
	require.Equal(t, http.StatusOK, status(t, srv.url, token))

	out, _, _ = c.run("", "tokens", "list")
	require.Contains(t, out, " ci ")
	id := strings.Split(token, "_")[1]
	require.Contains(t, out, id)
	_, _, code = c.run("", "tokens", "remove", id)
	require.Equal(t, 0, code)
	require.Equal(t, http.StatusUnauthorized, status(t, srv.url, token), "revoked at once on the replica that revoked it")

	// Setting up twice, a wrong password, and bad input are clear errors.
	_, errOut, code = c.run("", "login", srv.url, "--first-user-username", "eve", "--first-user-email", "eve@example.com", "--first-user-password", "password-2")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "already set up")
	_, errOut, code = c.run("wrong-password\n", "login", srv.url, "--username", "ada")
	require.Equal(t, 1, code)
	require.Equal(t, "hearth: Wrong username or password.\n", errOut)
	_, errOut, code = c.run("", "tokens", "create", "bad/name")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "body.name")
	_, errOut, code = c.run("", "login", "ftp://x")
	require.Equal(t, 2, code, errOut)

	// The password can come on standard input, as in CI.
	_, errOut, code = c.run("correct-horse\n", "login", srv.url, "--username", "ada")
	require.Equal(t, 0, code, errOut)
	out, _, code = c.run("", "logout")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Signed out")
	_, errOut, code = c.run("", "whoami")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not signed in")
}

// A negative, absurd or too short duration is a usage error that says what is wrong, never taken
// silently as the default.
func TestDurationFlagsRefuseNonsense(t *testing.T) {
	t.Parallel()
	c := cli{t: t, dir: t.TempDir()}
	for args, want := range map[string]string{
		"tokens create ci --lifetime -5s":    "--lifetime -5s: a duration cannot be negative",
		"tokens create ci --lifetime 30s":    "--lifetime 30s: a token lives at least 1m",
		"tokens create ci --lifetime 99999h": "--lifetime 99999h0m0s: at most",
	} {
		_, errOut, code := c.run("", strings.Fields(args)...)
		require.Equal(t, exitUsage, code, args)
		require.Contains(t, errOut, want, args)
	}
}
