package oauthtest

import (
	"context"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Git starts a Git smart-HTTP server (git http-backend) with one repository, REPO.git holding one
// commit on main, that answers only requests whose basic-auth password is an access token s
// accepts. It returns the repository's URL; the server stops with the test.
func (s *Server) Git(t testing.TB, repo string) string {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	bareRepo(t, git, root, repo)
	backend := &cgi.Handler{Path: git, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, password, ok := r.BasicAuth(); !ok || !s.Valid(password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="oauthtest git"`)
			http.Error(w, "a valid access token is needed", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + repo + ".git"
}

// bareRepo makes ROOT/NAME.git, a bare repository with one commit (a README) on main.
func bareRepo(t testing.TB, git, root, name string) {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	bare := filepath.Join(root, name+".git")
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(context.Background(), git, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(root, "init", "-q", "--bare", "-b", "main", bare)
	run(root, "init", "-q", "-b", "main", work)
	if err := os.WriteFile(filepath.Join(work, "README"), []byte("private\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(work, "add", "README")
	run(work, "commit", "-q", "-m", "first")
	run(work, "push", "-q", bare, "main")
}
