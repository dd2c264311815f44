package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// callAPI sends a request with a token and decodes the answer.
func callAPI(t testing.TB, method, url, token, contentType string, body []byte) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	require.Less(t, res.StatusCode, 300, "%s %s: %s", method, url, raw)
	return out
}

// A worker killed with SIGKILL in the middle of a job: the server takes the job back within the
// lease and retries it; it is never stuck.
func TestAKilledWorkersJobIsRetried(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	psk := filepath.Join(dir, "psk")
	require.NoError(t, os.WriteFile(psk, []byte("a-test-provisioner-key-0123456789\n"), 0o600))
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "data"), "--provisioners", "0",
		"--provisioner-psk-file", psk, "--provisioner-lease", "2s")
	c := cli{t: t, dir: filepath.Join(dir, "cli")}
	_, errOut, code := c.run("", "login", srv.url, "--first-user-username", "ada", "--first-user-email", "ada@example.com", "--first-user-password", "correct-horse")
	require.Equal(t, 0, code, errOut)
	session := struct{ Token string }{savedToken(t, c.dir)}

	worker := exec.Command(binary, "provisioner", "start", "--url", srv.url, "--psk-file", psk, "--name", "doomed", "--work-dir", filepath.Join(dir, "work"))
	worker.Env = append(os.Environ(), "HEARTH_LOG_LEVEL=warn")
	worker.Stderr = os.Stderr
	require.NoError(t, worker.Start())
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })

	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	main := tftest.SlowModule(t) // terraform init hangs until the test ends
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "main.tf", Mode: 0o644, Size: int64(len(main)), Typeflag: tar.TypeReg}))
	_, _ = tw.Write([]byte(main))
	require.NoError(t, tw.Close())
	file := callAPI(t, "POST", srv.url+"/api/v2/files", session.Token, "application/x-tar", archive.Bytes())
	v := callAPI(t, "POST", srv.url+"/api/v2/template-versions", session.Token, "application/json", []byte(`{"file_id":"`+file["id"].(string)+`"}`))
	versionURL := srv.url + "/api/v2/template-versions/" + v["id"].(string)

	waitFor := func(what string, ok func(map[string]any) bool) map[string]any {
		deadline := time.Now().Add(30 * time.Second)
		for {
			v := callAPI(t, "GET", versionURL, session.Token, "application/json", nil)
			if ok(v) {
				return v
			}
			require.True(t, time.Now().Before(deadline), "%s: %v", what, v)
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("the worker takes the job", func(v map[string]any) bool { return v["status"] == "running" })
	require.NoError(t, worker.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	waitFor("the job is taken back", func(v map[string]any) bool { return v["status"] == "pending" })
	t.Logf("taken back %s after the kill (lease 2s, reaper every 5s)", time.Since(killed).Round(100*time.Millisecond))

	jobs := callAPI(t, "GET", srv.url+"/api/v2/provisioners/jobs", session.Token, "application/json", nil)
	job := jobs["jobs"].([]any)[0].(map[string]any)
	require.Equal(t, "available", job["state"], "waiting for its next attempt")
	require.EqualValues(t, 1, job["attempt"])
	logs := callAPI(t, "GET", versionURL+"/logs", session.Token, "application/json", nil)
	require.Contains(t, fmt.Sprint(logs["logs"]), "provisioner worker doomed stopped responding")
	require.False(t, strings.Contains(fmt.Sprint(logs), "a-test-provisioner-key"), "the key is never logged")
}
