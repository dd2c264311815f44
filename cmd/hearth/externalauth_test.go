package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/oauthtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// externalAuthTF adds a required external auth provider to the local template: the build writes
// the SHA-256 of the token it was given into the workspace, so the test can check it without the
// token appearing anywhere.
const externalAuthTF = `
data "coder_external_auth" "testgit" {
  id = "testgit"
}

resource "terraform_data" "token_seen" {
  count      = data.coder_workspace.me.start_count
  depends_on = [terraform_data.home]
  provisioner "local-exec" {
    command = "printf %s \"$SUM\" > \"$HOME_DIR/.build-token-sha256\""
    environment = {
      SUM      = sha256(data.coder_external_auth.testgit.access_token)
      HOME_DIR = local.home
    }
  }
}
`

// The walk-through, with a real OAuth server and a real Git server on loopback: a template
// requires the provider, so a start without a link is refused saying how to link; the user links
// in Chromium through the dashboard; the build gets the token; inside the workspace
// `coder external-auth access-token` prints a token the provider accepts and `git ls-remote` of a
// private repository works through the credential helper; after the token's lifetime a new one is
// handed out; after `hearth external-auth unlink` the next request says how to link again.
func TestExternalAuthFromLinkToGitInAWorkspace(t *testing.T) {
	t.Parallel()
	required := os.Getenv("HEARTH_E2E") == "1"
	for _, need := range []string{"../../web/dist/app/index.html", "/usr/bin/chromium", "../../web/node_modules/playwright-core"} {
		if _, err := os.Stat(need); err != nil {
			if required {
				t.Fatalf("%s is missing: go tool task test builds the dashboard and installs Chromium", need)
			}
			t.Skipf("%s is missing (go tool task test provides it)", need)
		}
	}
	const lifetime = 8 * time.Second
	d := newExternalAuthDeployment(t, lifetime)
	provider, repo, srv, c, root := d.provider, d.repo, d.srv, d.c, d.root

	_, errOut, code := c.run("", "create", "dev", "--template", "git", "--yes")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "This template needs the owner's Test Git account: link it at "+srv.url+"/external-auth/testgit")
	out, _, _ := c.run("", "external-auth", "list")
	require.Regexp(t, `testgit\s+oauth2\s+Test Git\s+no`, out)

	// Linking, in Chromium, through the dashboard and the provider's consent page.
	cmd := exec.Command("node", "e2e/externalauth.mjs", srv.url, "ada", "correct-horse", "Test Git")
	cmd.Dir = "../../web"
	browserOut, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", browserOut)
	require.Contains(t, string(browserOut), "e2e: done", "%s", browserOut)
	out, _, _ = c.run("", "external-auth", "list")
	require.Regexp(t, `testgit\s+oauth2\s+Test Git\s+yes`, out)

	out, errOut, code = c.run("", "create", "dev", "--template", "git", "--yes")
	require.Equal(t, 0, code, "%s%s", out, errOut)
	home := filepath.Join(root, "ada", "dev")
	sum, err := os.ReadFile(filepath.Join(home, ".build-token-sha256"))
	require.NoError(t, err)
	require.True(t, provider.Issued(string(sum)), "the build's access_token is one the provider issued")
	waitUntil(t, "the agent", func() bool {
		_, _, code := c.run("", "ssh", "dev", "--", "true")
		return code == 0
	})

	inside := func(command string) (string, string, int) {
		t.Helper()
		return c.run("", "ssh", "dev", "--", command)
	}
	out, errOut, code = inside("coder external-auth access-token testgit")
	require.Equal(t, 0, code, errOut)
	first := strings.TrimSpace(out)
	require.True(t, provider.Valid(first), "the workspace's token works at the provider")
	out, errOut, code = inside("git config --get-all credential.helper; git ls-remote " + repo)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "/coder git-credential")
	require.Regexp(t, `[0-9a-f]{40}\s+refs/heads/main`, out, "git reached the private repository with the token")
	out, errOut, code = inside("git -c credential.helper= ls-remote " + repo)
	require.Equal(t, 0, code, "GIT_ASKPASS answers when no helper does: %s%s", out, errOut)
	require.Contains(t, out, "refs/heads/main")
	// Git over SSH offers the owner's Git SSH key (the one hearth publickey shows) through coder gitssh.
	pub, errOut, code := c.run("", "publickey")
	require.Equal(t, 0, code, errOut)
	sshRepo := oauthtest.GitSSH(t, "private", strings.TrimSpace(pub))
	// (The test's server has a new host key each run: this session's ssh is told not to check it.)
	out, errOut, code = inside(`echo $GIT_SSH_COMMAND; GIT_SSH_COMMAND="$GIT_SSH_COMMAND -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR" git ls-remote ` + sshRepo)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Contains(t, out, "/coder gitssh --")
	require.Contains(t, out, "refs/heads/main", "git reached the repository over SSH with the owner's key")

	_, errOut, code = inside("coder external-auth access-token github")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no external auth provider github")

	time.Sleep(lifetime)
	out, errOut, code = inside("coder external-auth access-token testgit")
	require.Equal(t, 0, code, errOut)
	second := strings.TrimSpace(out)
	require.NotEqual(t, first, second, "after its lifetime a new token is handed out")
	require.True(t, provider.Valid(second))
	require.GreaterOrEqual(t, provider.Refreshes.Load(), int64(1))

	// Linking from the CLI with a device code: the code is printed, approved at the provider, and
	// the command ends once the link is made.
	link := exec.Command(binary, "external-auth", "link", "testdevice", "--wait", "1m")
	link.Env = append(os.Environ(), "HEARTH_CONFIG_DIR="+c.dir)
	stdout, err := link.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, link.Start())
	lines := bufio.NewScanner(stdout)
	var userCode string
	for userCode == "" && lines.Scan() {
		if m := regexp.MustCompile(`enter the code (\S+) to link`).FindStringSubmatch(lines.Text()); m != nil {
			userCode = m[1]
		}
	}
	require.NotEmpty(t, userCode, "the CLI printed a device code")
	require.True(t, provider.ApproveDevice(userCode))
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	require.NoError(t, link.Wait())
	require.Contains(t, rest.String(), "Linked your Test Device account.")

	out, errOut, code = c.run("", "external-auth", "unlink", "testgit")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Unlinked testgit; its tokens are revoked.")
	require.False(t, provider.Valid(second), "unlinking revoked the token")
	_, errOut, code = inside("coder external-auth access-token testgit")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "ada has not linked a Test Git account: link it at "+srv.url+"/external-auth/testgit or run `hearth external-auth link testgit`")

	// No token reached the build's log or the audit log (the tokens all start gho_ or ghr_).
	logs, _, _ := c.run("", "logs", "dev")
	require.NotContains(t, logs, "gho_")
	audit := mustJSON(t, callAPI(t, "GET", srv.url+"/api/v2/audit?limit=100", d.token, "application/json", nil))
	require.NotContains(t, audit, "gho_")
	require.NotContains(t, audit, "ghr_")
}

// externalAuthDeployment is a server with one external auth provider, testgit, on a real OAuth
// server whose tokens open a Git repository, and a template "git" that requires it.
type externalAuthDeployment struct {
	provider *oauthtest.Server
	repo     string
	srv      *running
	c        cli
	token    string
	root     string
}

func newExternalAuthDeployment(t testing.TB, lifetime time.Duration) *externalAuthDeployment {
	t.Helper()
	provider := oauthtest.New(t, oauthtest.Options{AccessLifetime: lifetime})
	repo := provider.Git(t, "private")
	dir := t.TempDir()
	config := filepath.Join(dir, "external-auth.yaml")
	require.NoError(t, os.WriteFile(config, []byte(`- id: testgit
  type: oauth2
  display_name: Test Git
  client_id: `+provider.ClientID()+`
  client_secret: `+provider.ClientSecret()+`
  auth_url: `+provider.URL+`/authorize
  token_url: `+provider.URL+`/token
  revoke_url: `+provider.URL+`/revoke
  regex: ^`+regexp.QuoteMeta(strings.TrimSuffix(repo, "/private.git"))+`/
- id: testdevice
  type: oauth2
  display_name: Test Device
  client_id: `+provider.ClientID()+`
  client_secret: `+provider.ClientSecret()+`
  auth_url: `+provider.URL+`/authorize
  token_url: `+provider.URL+`/token
  device_code_url: `+provider.URL+`/device/code
  device_flow: true
`), 0o600))
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "data"), "--provisioners", "1",
		"--provider-mirror", tftest.Mirror(t), "--external-auth-config", config)
	c, token := signIn(t, srv.url, filepath.Join(dir, "cli"))
	api := func(method, path, body string) map[string]any {
		return callAPI(t, method, srv.url+path, token, "application/json", []byte(body))
	}

	// The template: the local example with the provider required.
	tpl := filepath.Join(dir, "template")
	require.NoError(t, os.MkdirAll(tpl, 0o755))
	local, err := os.ReadFile("../../examples/templates/local/main.tf")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tpl, "main.tf"), local, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(tpl, "externalauth.tf"), []byte(externalAuthTF), 0o600))
	file := callAPI(t, "POST", srv.url+"/api/v2/files", token, "application/x-tar", tarTemplate(t, tpl))
	root := filepath.Join(dir, "workspaces")
	v := api("POST", "/api/v2/template-versions", `{"file_id":"`+file["id"].(string)+`","variables":[{"name":"workspaces_dir","value":"`+root+`"}]}`)
	waitUntil(t, "the import", func() bool {
		v = api("GET", "/api/v2/template-versions/"+v["id"].(string), "")
		return v["status"] == "succeeded"
	})
	require.Equal(t, []any{map[string]any{"id": "testgit", "optional": false}}, v["external_auth"])
	api("POST", "/api/v2/templates", `{"name":"git","version_id":"`+v["id"].(string)+`"}`)

	return &externalAuthDeployment{provider: provider, repo: repo, srv: srv, c: c, token: token, root: root}
}
