package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// The CLI the way a new user meets it, with nothing but the binary: login, templates init and
// push, create, list, show, ssh, stop, start, logs, delete; templates, users and provisioners for
// admins; saved deployments; and each command's errors as one line with the right exit code.
func TestCLIWorkflow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "2",
		"--provider-mirror", tftest.Mirror(t))
	c := cli{t: t, dir: filepath.Join(dir, "cli")}
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := c.run("", args...)
		require.Equal(t, 0, code, "hearth %v: %s%s", args, out, errOut)
		return out
	}
	fails := func(wantCode int, wantErr string, args ...string) {
		t.Helper()
		out, errOut, code := c.run("", args...)
		require.Equal(t, wantCode, code, "hearth %v: %s%s", args, out, errOut)
		require.Contains(t, errOut, wantErr)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1, "one line: %q", errOut)
	}

	fails(1, "not signed in", "list")
	ok("login", srv.url, "--first-user-username", "ada", "--first-user-email", "ada@example.com", "--first-user-password", "correct-horse")

	// A template from the built-in examples, pushed as a new template and then as a second version.
	tmplDir := filepath.Join(dir, "local")
	require.Contains(t, ok("templates", "init", tmplDir, "--example", "local"), "hearth templates push")
	fails(2, "no example", "templates", "init", filepath.Join(dir, "x"), "--example", "nope")
	home := filepath.Join(dir, "workspaces")
	out, errOut, code := c.run("", "templates", "push", tmplDir, "--name", "local", "--variable", "workspaces_dir="+home)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Template local created")
	require.Contains(t, errOut, "==> ", "the import's output streamed by stage")
	require.Contains(t, errOut, "history_lines (number) default 1000")
	out, _, code = c.run("", "templates", "push", tmplDir, "--name", "local", "--variable", "workspaces_dir="+home, "--activate", "-m", "again")
	require.Equal(t, 0, code)
	require.Contains(t, out, "is now the active version of local")
	var versions []map[string]any
	require.NoError(t, json.Unmarshal([]byte(ok("templates", "versions", "local", "-o", "json")), &versions))
	require.Len(t, versions, 2)
	require.Contains(t, ok("templates", "list"), "local")
	pulled := filepath.Join(dir, "pulled")
	ok("templates", "pull", "local", pulled)
	orig, _ := os.ReadFile(filepath.Join(tmplDir, "main.tf"))
	got, err := os.ReadFile(filepath.Join(pulled, "main.tf"))
	require.NoError(t, err)
	require.Equal(t, string(orig), string(got))
	fails(2, "is not a template directory", "templates", "push", filepath.Join(dir, "missing"))
	broken := filepath.Join(dir, "broken")
	require.NoError(t, os.MkdirAll(broken, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(broken, "main.tf"), []byte("resource \"coder_agent\" \"main\" {\n  os = \n}\n"), 0o600))
	_, errOut, code = c.run("", "templates", "push", broken, "--name", "broken")
	require.Equal(t, 1, code)
	require.Regexp(t, `(?m)^main\.tf:2:\d+: error: \S`, errOut, "a template's mistake is shown with its file and line")

	// What Hearth does not honour is a warning with its file and line; --strict refuses it.
	honest := filepath.Join(dir, "honest")
	require.NoError(t, os.MkdirAll(honest, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(honest, "main.tf"), []byte(unhonouredTemplate), 0o600))
	_, errOut, code = c.run("", "templates", "push", honest, "--strict")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "strict")
	require.Contains(t, errOut, `main.tf:9: resource "coder_agent" api_key_scope: not supported by Hearth`)
	require.NotContains(t, ok("templates", "list"), "honest", "a refused template is not created")
	_, errOut, code = c.run("", "templates", "push", honest)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, `main.tf:9: warning: resource "coder_agent" api_key_scope: not supported by Hearth`)
	ok("templates", "delete", "honest", "--yes")

	// Parameters are checked before anything is submitted.
	fails(2, `unknown parameter "colour"`, "create", "bad", "-t", "local", "--parameter", "colour=red")
	fails(2, "parameter history_lines", "create", "bad", "-t", "local", "--parameter", "history_lines=lots")
	fails(2, "above the maximum 100000", "create", "bad", "-t", "local", "--parameter", "history_lines=200000")
	fails(2, `"zsh" is not one of bash or sh`, "create", "bad", "-t", "local", "--parameter", "shell=zsh")

	// The workspace's life, the template left to the CLI (there is only one).
	defer func() {
		// A template whose parameter has no default: without a terminal, leaving it out is an error.
		req := filepath.Join(dir, "required")
		require.NoError(t, os.MkdirAll(req, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(req, "main.tf"), []byte(requiredParameterTemplate), 0o644))
		_, errOut, code := c.run("", "templates", "push", req, "--yes")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, errOut, "region (string) required")
		fails(2, "parameter region is required: pass --parameter region=VALUE (one of eu or us)", "create", "x", "-t", "required")
		ok("templates", "delete", "required", "--yes")
	}()
	out, errOut, code = c.run("", "create", "dev", "--parameter", "shell=sh")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "Using template local")
	require.Contains(t, errOut, "succeeded in")
	require.Contains(t, out, "Workspace dev is running")
	require.Contains(t, ok("list"), "running")
	var listed []map[string]any
	require.NoError(t, json.Unmarshal([]byte(ok("list", "-o", "json")), &listed))
	require.Len(t, listed, 1)
	require.Equal(t, "dev", listed[0]["name"])
	var asYAML []map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(ok("list", "-o", "yaml")), &asYAML))
	require.Equal(t, "dev", asYAML[0]["name"])
	require.Contains(t, ok("list", "-o", "wide"), "OUTDATED")
	fails(2, "unknown output format", "list", "-o", "xml")
	show := ok("show", "dev")
	require.Contains(t, show, "ada/dev")
	require.Contains(t, show, "App:")
	require.Contains(t, ok("ssh", "dev", "--", "uname", "-a"), "Linux")
	require.Regexp(t, `^http://files--main--dev--ada\.apps\.localhost:\d+/\n$`, ok("open", "app", "dev", "files", "--no-open"),
		"on this machine, an app opens on its own host under *.apps.localhost")
	fails(1, `no app "nope"`, "open", "app", "dev", "nope", "--no-open")

	out, errOut, code = c.run("", "stop", "dev")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "(stop) succeeded")
	require.Equal(t, "Workspace dev is stopped (its home is kept): hearth start dev brings it back.\n", out, "one line says what happened and what next")
	require.Contains(t, ok("list"), "stopped")
	require.Contains(t, ok("logs", "dev"), "==> ")
	_, errOut, code = c.run("", "start", "dev")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, ok("logs", "dev", "--build", "1"), "==> ")
	_, errOut, code = c.run("", "restart", "dev")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 2, strings.Count(errOut, "succeeded in"), "a stop and a start: %s", errOut)
	_, errOut, code = c.run("", "update", "dev", "--parameter", "history_lines=50")
	require.Equal(t, 0, code, errOut)
	var shown struct {
		LatestBuild struct {
			Number     int
			Parameters []struct{ Name, Value string }
		} `json:"latest_build"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok("show", "dev", "-o", "json")), &shown))
	require.Equal(t, 6, shown.LatestBuild.Number, "create, stop, start, restart's two, update")
	require.Contains(t, shown.LatestBuild.Parameters, struct{ Name, Value string }{"history_lines", "50"})
	require.Contains(t, ok("completion", "bash"), "__start_hearth")
	key := ok("publickey")
	require.Regexp(t, `^ssh-ed25519 \S+\n$`, key, "an authorized_keys line")
	require.Equal(t, key, ok("publickey"), "the same pair until it is reset")
	fails(2, "pass --yes", "publickey", "--reset")
	require.NotEqual(t, key, ok("publickey", "--reset", "--yes"))
	fails(1, "has no build #9", "logs", "dev", "--build", "9")

	// Admin commands.
	ok("users", "create", "bob", "--email", "bob@example.com", "--password", "bobs-password")
	require.Contains(t, ok("users", "list"), "bob")
	ok("users", "suspend", "bob")
	require.Contains(t, ok("users", "list", "--status", "suspended"), "bob")
	ok("users", "activate", "bob")
	fails(2, "pass --yes", "users", "delete", "bob")
	ok("users", "delete", "bob", "--yes")
	require.Contains(t, ok("provisioners", "list"), "true", "the built-in workers")
	ok("provisioners", "jobs")

	// Errors: one line each.
	fails(1, "No workspace", "show", "nope")
	fails(1, "No workspace", "stop", "nope")
	fails(2, "want [OWNER/]WORKSPACE", "show", "a/b/c")
	fails(1, "reach http://127.0.0.1:1", "list", "--url", "http://127.0.0.1:1")
	fails(1, "token", "list", "--token", "hrt_bad")
	fails(2, "unknown flag", "list", "--colour")

	// Saved deployments: a second sign-in, then switching back.
	ok("login", srv.url, "--name", "again", "--username", "ada", "--password", "correct-horse")
	var deployments []struct {
		Name    string
		Current bool
	}
	require.NoError(t, json.Unmarshal([]byte(ok("deployments", "list", "-o", "json")), &deployments))
	require.Len(t, deployments, 2)
	for _, d := range deployments {
		require.Equal(t, d.Name == "again", d.Current, d.Name)
	}
	require.Contains(t, ok("list", "--deployment", "127.0.0.1:"+strings.Split(srv.url, ":")[2]), "dev")
	ok("deployments", "use", "127.0.0.1:"+strings.Split(srv.url, ":")[2])
	fails(1, `no deployment named "gone"`, "list", "--deployment", "gone")

	fails(2, "pass --yes", "delete", "dev")
	out, errOut, code = c.run("", "delete", "dev", "--yes")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "(delete) succeeded")
	require.Contains(t, out, "Workspace dev is deleted")
	require.Contains(t, ok("list"), "No workspaces")
	ok("templates", "delete", "local", "--yes")
}

// unhonouredTemplate sets an attribute of the coder provider that Hearth does not honour.
const unhonouredTemplate = `terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
  api_key_scope = "all"
}
`

// requiredParameterTemplate has one parameter without a default: creating a workspace needs a value.
const requiredParameterTemplate = `terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
data "coder_parameter" "region" {
  name = "region"
  type = "string"
  option {
    name  = "Europe"
    value = "eu"
  }
  option {
    name  = "America"
    value = "us"
  }
}
data "coder_parameter" "tools" {
  name      = "tools"
  type      = "list(string)"
  form_type = "multi-select"
  mutable   = true
  option {
    name  = "Git"
    value = "git"
  }
  option {
    name  = "Vim"
    value = "vim"
  }
  option {
    name  = "Emacs"
    value = "emacs"
  }
}
`

// updatedRequiredTemplate is requiredParameterTemplate's next version: a region renamed (and now
// mutable) and a new required parameter.
const updatedRequiredTemplate = `terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
data "coder_parameter" "region" {
  name    = "region"
  type    = "string"
  mutable = true
  option {
    name  = "Europe (west)"
    value = "eu-west"
  }
  option {
    name  = "America"
    value = "us"
  }
}
data "coder_parameter" "tools" {
  name      = "tools"
  type      = "list(string)"
  form_type = "multi-select"
  mutable   = true
  option {
    name  = "Git"
    value = "git"
  }
  option {
    name  = "Vim"
    value = "vim"
  }
  option {
    name  = "Emacs"
    value = "emacs"
  }
}
data "coder_parameter" "size" {
  name = "size"
  type = "string"
  option {
    name  = "Small"
    value = "small"
  }
  option {
    name  = "Large"
    value = "large"
  }
}
`

// On a terminal, a missing required parameter is asked for (with its options, until the answer is
// valid), an update asks for what its version needs, and a deletion asks for confirmation.
func TestCLIPromptsOnATerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "1",
		"--provider-mirror", tftest.Mirror(t))
	c, _ := signIn(t, srv.url, filepath.Join(dir, "cli"))
	req := filepath.Join(dir, "required")
	require.NoError(t, os.MkdirAll(req, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(req, "main.tf"), []byte(requiredParameterTemplate), 0o644))
	_, errOut, code := c.run("", "templates", "push", req)
	require.Equal(t, 0, code, errOut)

	term := func(args ...string) (*os.File, *exec.Cmd) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "HEARTH_CONFIG_DIR="+c.dir, "NO_COLOR=1")
		f, err := pty.Start(cmd)
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return f, cmd
	}
	var seen strings.Builder
	expect := func(f *os.File, want string) {
		t.Helper()
		buf := make([]byte, 4096)
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(seen.String(), want) {
			require.True(t, time.Now().Before(deadline), "waiting for %q in %q", want, seen.String())
			_ = f.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := f.Read(buf)
			seen.Write(buf[:n])
		}
	}
	exitOf := func(cmd *exec.Cmd) int {
		_ = cmd.Wait()
		return cmd.ProcessState.ExitCode()
	}

	// A select list answered by value or number; a multi-select by numbers; mistakes told at the prompt.
	f, cmd := term("create", "x", "-t", "required")
	expect(f, "1) Europe  (eu)")
	expect(f, "region [1-2]: ")
	_, _ = f.WriteString("mars\r")
	expect(f, `"mars" is not one of eu or us`)
	_, _ = f.WriteString("1\r")
	expect(f, "3) Emacs  (emacs)")
	expect(f, "tools (any of 1-3, separated by commas): ")
	_, _ = f.WriteString("1,nano\r")
	expect(f, `"nano" is not one of git, vim or emacs`)
	_, _ = f.WriteString("1, 3\r")
	expect(f, "Workspace x is running")
	require.Equal(t, 0, exitOf(cmd), seen.String())
	require.Contains(t, seen.String(), "(start) succeeded")
	var shown struct {
		LatestBuild struct {
			Parameters []struct{ Name, Value string }
		} `json:"latest_build"`
	}
	out, _, _ := c.run("", "show", "x", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	require.ElementsMatch(t, []struct{ Name, Value string }{{"region", "eu"}, {"tools", `["git","emacs"]`}}, shown.LatestBuild.Parameters)
	_, errOut, code = c.run("", "create", "y", "-t", "required", "--yes", "--parameter", "region=us")
	require.Equal(t, 2, code, "--yes never asks")
	require.Contains(t, errOut, "parameter tools is required: pass --parameter tools=VALUE")

	// An update asks only for what the new version needs: a new required parameter, and one whose
	// value it no longer allows.
	require.NoError(t, os.WriteFile(filepath.Join(req, "main.tf"), []byte(updatedRequiredTemplate), 0o644))
	_, errOut, code = c.run("", "templates", "push", req, "--activate", "-m", "Europe moved to eu-west")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = c.run("", "update", "x", "--yes")
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, `the workspace's value of region is no longer allowed ("eu" is not one of eu-west or us)`)
	seen.Reset()
	f, cmd = term("update", "x")
	expect(f, "Updating x to version")
	expect(f, "Europe moved to eu-west")
	expect(f, "region [1-2]: ")
	_, _ = f.WriteString("1\r")
	expect(f, "size [1-2]: ")
	_, _ = f.WriteString("large\r")
	expect(f, "Workspace x is running: hearth ssh x")
	require.Equal(t, 0, exitOf(cmd), seen.String())
	require.NotContains(t, seen.String(), "tools (any of", "a value still allowed is not asked again")
	out, _, _ = c.run("", "show", "x", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	require.ElementsMatch(t, []struct{ Name, Value string }{{"region", "eu-west"}, {"size", "large"}, {"tools", `["git","emacs"]`}}, shown.LatestBuild.Parameters)
	out, _, code = c.run("", "update", "x")
	require.Equal(t, 0, code)
	require.Contains(t, out, "already on the active version")

	seen.Reset()
	f, cmd = term("delete", "x")
	expect(f, "Delete workspace ada/x and everything in it? [y/N]")
	_, _ = f.WriteString("n\r")
	require.Equal(t, 2, exitOf(cmd), "declined: %s", seen.String())

	seen.Reset()
	f, cmd = term("delete", "x")
	expect(f, "[y/N]")
	_, _ = f.WriteString("y\r")
	expect(f, "(delete) succeeded")
	require.Equal(t, 0, exitOf(cmd), seen.String())
}

// Every command's --help shows an example of its use.
func TestEveryCommandHasAnExample(t *testing.T) {
	t.Parallel()
	require.Empty(t, missingExamples(rootCommand()), "commands without an example: add them to helpExamples in examples.go")
}
