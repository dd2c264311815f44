package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// Teams with the CLI, as a platform team would: a group, a template only that group may use, and a
// workspace shared with the group. Its members reach it with hearth ssh; others do not; unshared, an
// open session of a member closes within seconds.
func TestGroupsTemplateAccessAndSharingWithTheCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "2",
		"--provider-mirror", tftest.Mirror(t))
	ada, token := signIn(t, s.url, filepath.Join(dir, "ada"))
	api := func(method, path, body string) map[string]any {
		return callAPI(t, method, s.url+path, token, "application/json", []byte(body))
	}
	localWorkspace(t, api, s.url, token, "dev", `{"name":"workspaces_dir","value":"`+filepath.Join(dir, "workspaces")+`"}`)
	must := func(c cli, args ...string) string {
		t.Helper()
		out, errOut, code := c.run("", args...)
		require.Equal(t, 0, code, "hearth %v: %s%s", args, out, errOut)
		return out
	}
	member := func(name string) cli {
		must(ada, "users", "create", name, "--email", name+"@example.com", "--password", name+"-password")
		c := cli{t: t, dir: filepath.Join(dir, name)}
		must(c, "login", s.url, "--username", name, "--password", name+"-password")
		return c
	}
	bob, carol := member("bob"), member("carol")

	must(ada, "groups", "create", "platform", "--display-name", "Platform team", "--members", "bob")
	require.Regexp(t, `(?m)^platform\s+Platform team\s+1\s+0$`, must(ada, "groups", "list"))
	require.Regexp(t, `(?m)^bob\s+\S*\s*manual$`, must(ada, "groups", "show", "platform"))

	// The template goes to the platform group only.
	out := must(ada, "templates", "access", "local", "--remove-group", "everyone", "--group", "platform")
	require.Regexp(t, `(?m)^group\s+platform\s+use$`, out)
	require.NotContains(t, out, "everyone")
	require.Contains(t, must(bob, "templates", "list"), "local")
	require.NotContains(t, must(carol, "templates", "list"), "local")
	_, errOut, code := carol.run("", "create", "mine", "--template", "local", "--yes")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "No template local")

	// ada's workspace, before and after she shares it with the group.
	_, errOut, code = bob.run("", "ssh", "ada/dev", "--", "echo", "hi")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "No workspace ada/dev")
	require.Regexp(t, `(?m)^group\s+platform\s+use$`, must(ada, "sharing", "share", "dev", "--group", "platform"))
	require.Equal(t, "hi\n", must(bob, "ssh", "ada/dev", "--", "echo", "hi"))
	_, _, code = carol.run("", "ssh", "ada/dev", "--", "echo", "hi")
	require.NotEqual(t, 0, code, "carol is not in the group")
	require.Regexp(t, `(?m)^dev\s+ada\s+local\s+running`, must(bob, "list", "--all"))

	// An open session of bob's ends soon after the sharing does, on each path.
	for _, path := range []string{"relay", "auto"} {
		must(ada, "sharing", "share", "dev", "--group", "platform")
		session := exec.Command(binary, "ssh", "ada/dev", "--", "echo ready; sleep 120")
		session.Env = append(os.Environ(), "HEARTH_CONFIG_DIR="+bob.dir, "HEARTH_CONNECTION_PATH="+path)
		var stderr bytes.Buffer
		session.Stderr = &stderr
		stdout, err := session.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, session.Start())
		buf := make([]byte, 6)
		_, err = stdout.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "ready\n", string(buf))
		must(ada, "sharing", "remove", "dev", "--group", "platform")
		unshared := time.Now()
		ended := make(chan error, 1)
		go func() { ended <- session.Wait() }()
		select {
		case err := <-ended:
			require.Error(t, err, "the session ends in error, not as if its command had finished")
			t.Logf("%s: bob's session ended %s after the sharing did", path, time.Since(unshared).Round(time.Millisecond))
			require.Contains(t, stderr.String(), "your access to it ended", path)
		case <-time.After(10 * time.Second):
			_ = session.Process.Kill()
			t.Fatalf("%s: bob's session still runs 10 s after the workspace stopped being shared with him", path)
		}
		require.Less(t, time.Since(unshared), 5*time.Second, path)
	}
	_, _, code = bob.run("", "ssh", "ada/dev", "--", "echo", "hi")
	require.NotEqual(t, 0, code)
	require.Contains(t, must(ada, "sharing", "status", "dev"), "(nobody)")
}
