package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/internal/riverclaim"
	"github.com/hearthdev/hearth/internal/tftest"
	worker "github.com/hearthdev/hearth/provisioner-worker"
)

// mirror is the provider mirror that go tool task providers fills (task test sets the variable).
// tarDir archives a directory's files.
func tarDir(t testing.TB, dir string) []byte { return tftest.Tar(t, dir) }

// newVersion uploads an archive and creates a template version from it, as a template admin.
func newVersion(t testing.TB, b bundle, admin []string, archive []byte) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "POST", b.srv.URL+"/api/v2/files", bytes.NewReader(archive))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-tar")
	req.Header.Set(admin[0], admin[1])
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var f struct{ ID string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&f))
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	res2, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+f.ID+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res2.StatusCode, v)
	return v["id"].(string)
}

// waitVersion polls a template version until its import ends.
func waitVersion(t testing.TB, b bundle, admin []string, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, v := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
		if s := v["status"]; s == "succeeded" || s == "failed" || s == "canceled" {
			return v
		}
		require.True(t, time.Now().Before(deadline), "import did not end: %v", v)
		time.Sleep(20 * time.Millisecond)
	}
}

func startWorker(t testing.TB, b bundle, name string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, t, b, name) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// runWorker runs a provisioner worker until ctx ends.
func runWorker(ctx context.Context, t testing.TB, b bundle, name string) error {
	tf, err := worker.FindTerraform(ctx, "")
	if err != nil {
		return err
	}
	return worker.Run(ctx, worker.Config{URL: b.srv.URL, Key: testPSK, Name: name, Logger: testLogger(),
		Runner: worker.Runner{Terraform: tf, Mirrors: []string{tftest.Mirror(t)}, WorkDir: t.TempDir()}})
}

func TestTemplateImportOnAWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	startWorker(t, b, "w2")
	id := newVersion(t, b, admin, tarDir(t, "../examples/templates/local"))
	v := waitVersion(t, b, admin, id)
	require.Equal(t, "succeeded", v["status"], v["error"])

	params := v["parameters"].([]any)
	require.Len(t, params, 2)
	shell := params[0].(map[string]any)
	require.Equal(t, "shell", shell["name"])
	require.Equal(t, "bash", shell["default"])
	require.Len(t, shell["options"], 2)
	history := params[1].(map[string]any)
	require.Equal(t, "number", history["type"])
	require.EqualValues(t, 100000, history["validation"].(map[string]any)["max"])
	vars := v["variables"].([]any)
	require.Len(t, vars, 3)
	require.Equal(t, []any{"agent_url", "files_share", "workspaces_dir"},
		[]any{vars[0].(map[string]any)["name"], vars[1].(map[string]any)["name"], vars[2].(map[string]any)["name"]})

	// The agent belongs to the resource that runs it, found from the configuration's references.
	res := v["resources"].([]any)
	require.Len(t, res, 2, "the agent's process and the home directory")
	r := res[0].(map[string]any)
	require.Equal(t, "terraform_data.agent", r["type"].(string)+"."+r["name"].(string))
	require.Empty(t, res[1].(map[string]any)["agents"])
	agent := r["agents"].([]any)[0].(map[string]any)
	require.Equal(t, "main", agent["name"])
	require.Equal(t, "files", agent["apps"].([]any)[0].(map[string]any)["slug"])

	_, logs := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id+"/logs", "", admin...)
	stages := map[string]bool{}
	for _, l := range logs["logs"].([]any) {
		stages[l.(map[string]any)["stage"].(string)] = true
	}
	require.True(t, stages["init"] && stages["plan"], "%v", stages)

	_, ws := call(t, "GET", b.srv.URL+"/api/v2/provisioners", "", admin...)
	require.Len(t, ws["workers"], 2)
}

func TestABrokenTemplateFailsWithItsError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`resource "nonsense" {`), 0o600))
	v := waitVersion(t, b, admin, newVersion(t, b, admin, tarDir(t, dir)))
	require.Equal(t, "failed", v["status"])
	require.Contains(t, v["error"], "terraform init failed")

	res, p := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+fmt.Sprintf("%064x", 1)+`"}`, admin...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Equal(t, "body.file_id", firstLocation(p))
}

// acquire asks for a job as a worker would, without running it.
func acquire(t *testing.T, b bundle, key, name string) (int, map[string]any) {
	t.Helper()
	res, body := call(t, "POST", b.srv.URL+"/api/v2/provisioners/acquire", `{"name":"`+name+`","wait_seconds":5}`, "Hearth-Provisioner-Key", key)
	return res.StatusCode, body
}

func TestWorkersNeedAnAcceptedKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, p := acquire(t, b, "wrong-key-0123456789", "w")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, p["detail"], "Hearth-Provisioner-Key")
	res, _ := call(t, "POST", b.srv.URL+"/api/v2/provisioners/jobs/1/heartbeat", "", "Authorization", "Bearer not-a-token")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// A worker that goes silent loses its job: it is retried, and the worker's late reports are refused.
func TestASilentWorkerLosesItsJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t) // leases last 2 seconds here
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	id := newVersion(t, b, admin, tinyTarBytes())
	status, job := acquire(t, b, testPSK, "silent")
	require.Equal(t, http.StatusOK, status)
	token := []string{"Authorization", "Bearer " + job["token"].(string)}
	jobURL := fmt.Sprintf("%s/api/v2/provisioners/jobs/%d", b.srv.URL, int64(job["id"].(float64)))

	res, hb := call(t, "POST", jobURL+"/heartbeat", "", token...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, false, hb["cancel_requested"])

	// No more heartbeats: once the lease runs out, the reaper (a periodic job) ends the attempt.
	claimer := riverclaim.New(b.db.Pool, "test")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, v := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
		if v["status"] == "pending" {
			break
		}
		_, _ = provisioning.ReapLeases(ctx, b.db, claimer, nil, testLogger()) // as the periodic job does
		require.True(t, time.Now().Before(deadline), "the job was not taken back: %v", v)
		time.Sleep(100 * time.Millisecond)
	}
	_, logs := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id+"/logs", "", admin...)
	require.Contains(t, fmt.Sprint(logs["logs"]), "provisioner worker silent stopped responding")

	// The retry is a new attempt for whoever asks next; the lost attempt's result is refused then.
	_, again := call(t, "POST", b.srv.URL+"/api/v2/provisioners/acquire", `{"name":"next","wait_seconds":5}`, "Hearth-Provisioner-Key", testPSK)
	require.EqualValues(t, 2, again["attempt"])
	res, _ = call(t, "POST", jobURL+"/complete", `{"import":{"parameters":[],"variables":[],"resources":[]}}`, token...)
	require.Equal(t, http.StatusConflict, res.StatusCode, "the lost attempt's late result, once another attempt has the job")
}

func TestCancelingAJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}

	// Waiting: canceled at once.
	id := newVersion(t, b, admin, tinyTarBytes())
	_, v := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
	res, _ := call(t, "POST", fmt.Sprintf("%s/api/v2/provisioners/jobs/%d/cancel", b.srv.URL, int64(v["job_id"].(float64))), "", admin...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	_, v = call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
	require.Equal(t, "canceled", v["status"])

	// Running: the worker hears it at its next heartbeat and reports back.
	id = newVersion(t, b, admin, tinyTarBytes())
	_, job := acquire(t, b, testPSK, "w")
	jobURL := fmt.Sprintf("%s/api/v2/provisioners/jobs/%d", b.srv.URL, int64(job["id"].(float64)))
	token := []string{"Authorization", "Bearer " + job["token"].(string)}
	res, _ = call(t, "POST", jobURL+"/cancel", "", admin...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	_, hb := call(t, "POST", jobURL+"/heartbeat", "", token...)
	require.Equal(t, true, hb["cancel_requested"])
	res, _ = call(t, "POST", jobURL+"/logs", `{"logs":[{"time":"2026-01-01T00:00:00Z","stage":"plan","level":"warn","output":"interrupted"}]}`, token...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = call(t, "POST", jobURL+"/fail", `{"error":"terraform plan was interrupted","canceled":true}`, token...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	v = waitVersion(t, b, admin, id)
	require.Equal(t, "canceled", v["status"])
	_, logs := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id+"/logs", "", admin...)
	require.Len(t, logs["logs"], 1, "logs are kept")
	res, _ = call(t, "POST", jobURL+"/cancel", "", admin...)
	require.Equal(t, http.StatusConflict, res.StatusCode, "already ended")
}

// Many workers racing over many jobs through the API: each job goes to exactly one of them, with its
// own version (claims made at the same time are served together), and each version's import ends.
func TestEachJobGoesToOneWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	const jobs, workers = 30, 8
	versions := map[string]bool{}
	for range jobs {
		versions[newVersion(t, b, admin, tinyTarBytes())] = true
	}
	var mu sync.Mutex
	got, versionOf := map[float64]int{}, map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, body := call(t, "POST", b.srv.URL+"/api/v2/provisioners/acquire", fmt.Sprintf(`{"name":"w%d","wait_seconds":0}`, w), "Hearth-Provisioner-Key", testPSK)
				if res.StatusCode == http.StatusNoContent {
					return
				}
				mu.Lock()
				got[body["id"].(float64)]++
				versionOf[body["template_version_id"].(string)]++
				mu.Unlock()
				require.NotEmpty(t, body["template"].(map[string]any)["archive"], "the job carries its template")
				res, _ = call(t, "POST", fmt.Sprintf("%s/api/v2/provisioners/jobs/%d/complete", b.srv.URL, int64(body["id"].(float64))),
					`{"import":{"parameters":[],"variables":[],"resources":[]}}`, "Authorization", "Bearer "+body["token"].(string))
				require.Equal(t, http.StatusNoContent, res.StatusCode)
			}
		}()
	}
	wg.Wait()
	require.Len(t, got, jobs)
	for id, n := range got {
		require.Equal(t, 1, n, "job %v", id)
	}
	require.Len(t, versionOf, jobs)
	for id := range versions {
		require.Equal(t, 1, versionOf[id], "version %s", id)
		_, v := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
		require.Equal(t, "succeeded", v["status"], "version %s", id)
	}
}

func tinyTarBytes() []byte { return []byte(tinyTar) }

func testLogger() *slog.Logger { return dbtest.Logger() }

// A job that no worker takes is visible in the API and in the metrics.
func TestQueueVisibility(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	file := uploadTiny(t, b, admin)
	res, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`","tags":{"region":"eu"}}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v)
	call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`","tags":{"region":"eu"}}`, admin...)

	_, jobs := call(t, "GET", b.srv.URL+"/api/v2/provisioners/jobs", "", admin...)
	list := jobs["jobs"].([]any)
	require.Len(t, list, 2)
	first := list[0].(map[string]any)
	require.Equal(t, map[string]any{"region": "eu"}, first["tags"])
	require.EqualValues(t, 1, first["queue_position"])
	require.EqualValues(t, 2, list[1].(map[string]any)["queue_position"])
	require.Equal(t, true, first["no_matching_worker"], "the only worker seen (setup) is untagged")

	// An untagged worker does not take them; one with region=eu (and more) does.
	status, _ := call(t, "POST", b.srv.URL+"/api/v2/provisioners/acquire", `{"name":"plain"}`, "Hearth-Provisioner-Key", testPSK)
	require.Equal(t, http.StatusNoContent, status.StatusCode)
	_, got := call(t, "POST", b.srv.URL+"/api/v2/provisioners/acquire", `{"name":"eu","tags":{"region":"eu","gpu":"yes"}}`, "Hearth-Provisioner-Key", testPSK)
	require.Equal(t, first["id"], got["id"])

	_, raw := get(t, b.srv.URL+"/metrics")
	for _, want := range []string{
		`hearth_provisioner_jobs{state="available",tags="region=eu"} 1`,
		`hearth_provisioner_jobs{state="running",tags="region=eu"} 1`,
		`hearth_provisioner_workers{tags="gpu=yes,region=eu"} 1`,
		`hearth_provisioner_jobs_unmatched{tags="region=eu"} 0`,
		`hearth_provisioner_queue_oldest_seconds{tags="region=eu"}`,
	} {
		if strings.Contains(want, "unmatched") {
			require.NotContains(t, string(raw), `hearth_provisioner_jobs_unmatched{tags="region=eu"}`, "a worker with region=eu is present now")
			continue
		}
		require.Contains(t, string(raw), want)
	}
}

// slowModule is a template whose terraform init hangs until the test ends.
func slowModule(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tftest.SlowModule(t)), 0o600))
	return tarDir(t, dir)
}

// Canceling a running job interrupts the real Terraform, and the job ends canceled with its logs.
func TestCancelingInterruptsTerraform(t *testing.T) {
	t.Parallel()
	b := setup(t) // leases of 2 s: the worker heartbeats every second
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w")
	id := newVersion(t, b, admin, slowModule(t))
	deadline := time.Now().Add(30 * time.Second)
	var v map[string]any
	for {
		_, v = call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
		if v["status"] == "running" {
			break
		}
		require.True(t, time.Now().Before(deadline))
		time.Sleep(20 * time.Millisecond)
	}
	res, _ := call(t, "POST", fmt.Sprintf("%s/api/v2/provisioners/jobs/%d/cancel", b.srv.URL, int64(v["job_id"].(float64))), "", admin...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	v = waitVersion(t, b, admin, id)
	require.Equal(t, "canceled", v["status"])
	require.Contains(t, v["error"], "interrupted")
	_, logs := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id+"/logs", "", admin...)
	require.Contains(t, fmt.Sprint(logs["logs"]), "the job was canceled")
}

// A worker that reports a result with next takes its next job in the same request when one waits
// (204 when none does), with a token of its own; a result for an attempt the worker lost is refused
// and claims nothing.
func TestAResultTakesTheNextJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	first := newVersion(t, b, admin, tinyTarBytes())
	second := newVersion(t, b, admin, tinyTarBytes())
	status, job := acquire(t, b, testPSK, "busy")
	require.Equal(t, http.StatusOK, status)
	complete := func(job map[string]any) (*http.Response, map[string]any) {
		return call(t, "POST", fmt.Sprintf("%s/api/v2/provisioners/jobs/%d/complete", b.srv.URL, int64(job["id"].(float64))),
			`{"import":{"parameters":[],"variables":[],"resources":[]},"next":true}`, "Authorization", "Bearer "+job["token"].(string))
	}
	res, next := complete(job)
	require.Equal(t, http.StatusOK, res.StatusCode, next)
	require.NotEqual(t, job["id"], next["id"])
	require.ElementsMatch(t, []string{first, second}, []string{job["template_version_id"].(string), next["template_version_id"].(string)})
	res, again := complete(job)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "the first job's result again is a no-op, and nothing waits: %v", again)
	res, none := complete(next)
	require.Equal(t, http.StatusNoContent, res.StatusCode, none)
	for _, id := range []string{first, second} {
		require.Equal(t, "succeeded", waitVersion(t, b, admin, id)["status"])
	}
	var workers []map[string]any
	_, list := call(t, "GET", b.srv.URL+"/api/v2/provisioners", "", admin...)
	raw, _ := json.Marshal(list["workers"])
	require.NoError(t, json.Unmarshal(raw, &workers))
	require.Len(t, workers, 1, "the worker is listed once, as itself")
	require.Equal(t, "busy", workers[0]["name"])
}

// A template's mistakes reach the API as Terraform's diagnostics, each with its severity,
// summary, detail, file and line, next to the one-line error.
func TestAFailedImportReportsDiagnosticsWithFileAndLine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte("terraform {\n}\n\nresource \"coder_agent\" \"main\" {\n  os = \n}\n"), 0o600))
	v := waitVersion(t, b, admin, newVersion(t, b, admin, tarDir(t, dir)))
	require.Equal(t, "failed", v["status"])
	require.NotEmpty(t, v["error"])
	diags := v["diagnostics"].([]any)
	require.NotEmpty(t, diags, "the import's diagnostics: %v", v["error"])
	d := diags[0].(map[string]any)
	require.Equal(t, "error", d["severity"])
	require.Equal(t, "main.tf", d["file"])
	require.EqualValues(t, 5, d["line"])
	require.NotEmpty(t, d["summary"])
	require.NotEmpty(t, d["detail"])
}
