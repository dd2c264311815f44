package api

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkWorkspaceBuilds measures, on one worker with the lifecycle test template (a persistent
// and an ephemeral terraform_data with local-exec provisioners), the time from the request to the
// build's success for: create (the first start), stop, and start. Reported: the median of each.
func BenchmarkWorkspaceBuilds(b *testing.B) {
	bb := setup(b)
	admin := []string{"Authorization", "Bearer " + owner(b, bb)}
	startWorker(b, bb, "w1")
	lifecycleTemplate(b, bb, admin, b.TempDir(), "files")
	var create, stop, start []time.Duration
	timed := func(method, path, body string) (time.Duration, map[string]any) {
		t0 := time.Now()
		res, v := call(b, method, bb.srv.URL+path, body, admin...)
		require.Less(b, res.StatusCode, 300, v)
		build := v
		if lb, ok := v["latest_build"].(map[string]any); ok {
			build = lb
		}
		done := waitBuild(b, bb, admin, build["id"].(string))
		require.Equal(b, "succeeded", done["status"], done)
		return time.Since(t0), v
	}
	b.ResetTimer()
	for i := range b.N {
		d, ws := timed("POST", "/api/v2/workspaces", fmt.Sprintf(`{"name":"b%d","template":"files","parameters":[{"name":"region","value":"eu"}]}`, i))
		create = append(create, d)
		id := ws["id"].(string)
		d, _ = timed("POST", "/api/v2/workspaces/"+id+"/builds", `{"transition":"stop"}`)
		stop = append(stop, d)
		d, _ = timed("POST", "/api/v2/workspaces/"+id+"/builds", `{"transition":"start"}`)
		start = append(start, d)
	}
	b.StopTimer()
	b.ReportMetric(float64(median(create).Milliseconds()), "create-ms")
	b.ReportMetric(float64(median(stop).Milliseconds()), "stop-ms")
	b.ReportMetric(float64(median(start).Milliseconds()), "start-ms")
}

// BenchmarkConcurrentCreates creates 20 workspaces at once with 3 workers and reports how long until
// all succeeded; every one must.
func BenchmarkConcurrentCreates(b *testing.B) { concurrentCreates(b, 20, 3) }

// BenchmarkHundredCreates creates 100 workspaces at once with 10 workers: every one must succeed;
// reported are the time until the last, and the distributions of queue wait (build created to a
// worker starting it) and build time (started to succeeded).
func BenchmarkHundredCreates(b *testing.B) { concurrentCreates(b, 100, 10) }

func concurrentCreates(b *testing.B, n, workers int) {
	bb := setup(b)
	admin := []string{"Authorization", "Bearer " + owner(b, bb)}
	for i := range workers {
		startWorker(b, bb, fmt.Sprintf("w%d", i))
	}
	lifecycleTemplate(b, bb, admin, b.TempDir(), "files")
	b.ResetTimer()
	for round := range b.N {
		var wg sync.WaitGroup
		t0 := time.Now()
		failed := make(chan string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, ws := call(b, "POST", bb.srv.URL+"/api/v2/workspaces",
					fmt.Sprintf(`{"name":"c%d-%d","template":"files","parameters":[{"name":"region","value":"eu"}]}`, round, i), admin...)
				if res.StatusCode != http.StatusCreated {
					failed <- fmt.Sprint(ws)
					return
				}
				if done := waitBuildFor(b, bb, admin, ws["latest_build"].(map[string]any)["id"].(string), 10*time.Minute); done["status"] != "succeeded" {
					failed <- fmt.Sprint(done)
				}
			}()
		}
		wg.Wait()
		close(failed)
		for f := range failed {
			b.Fatalf("a workspace failed: %s", f)
		}
		b.ReportMetric(time.Since(t0).Seconds(), fmt.Sprintf("s-for-%d", n))
	}
	b.StopTimer()
	var waits, builds []time.Duration
	rows, err := bb.db.Pool.Query(context.Background(),
		`SELECT started_at - created_at, completed_at - started_at FROM workspace_builds WHERE status = 'succeeded'`)
	require.NoError(b, err)
	for rows.Next() {
		var wait, build time.Duration
		require.NoError(b, rows.Scan(&wait, &build))
		waits, builds = append(waits, wait), append(builds, build)
	}
	require.NoError(b, rows.Err())
	for _, d := range []struct {
		name string
		v    []time.Duration
	}{{"wait", waits}, {"build", builds}} {
		sort.Slice(d.v, func(i, j int) bool { return d.v[i] < d.v[j] })
		b.ReportMetric(d.v[len(d.v)/2].Seconds(), d.name+"-p50-s")
		b.ReportMetric(d.v[len(d.v)*95/100].Seconds(), d.name+"-p95-s")
		b.ReportMetric(d.v[len(d.v)-1].Seconds(), d.name+"-max-s")
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkListWorkspaces measures the dashboard's workspaces page (50 of 2,000 workspaces, as the
// owner, who sees all) through the API; the workspaces are made in SQL, each with a succeeded start.
func BenchmarkListWorkspaces(b *testing.B) {
	bb := setup(b)
	admin := []string{"Authorization", "Bearer " + owner(b, bb)}
	_, err := bb.db.Pool.Exec(context.Background(), `
		WITH f AS (INSERT INTO files (hash, content_type, data) VALUES (sha256('x'), 'application/x-tar', 'x') RETURNING hash),
		v AS (INSERT INTO template_versions (file_hash, status) SELECT hash, 'succeeded' FROM f RETURNING id),
		t AS (INSERT INTO templates (name, active_version_id) SELECT 'sim', id FROM v RETURNING id, active_version_id),
		u AS (INSERT INTO users (username, email) SELECT 'u' || g, 'u' || g || '@example.com' FROM generate_series(1, 2000) g RETURNING id),
		w AS (INSERT INTO workspaces (owner_id, template_id, name) SELECT u.id, t.id, 'ws' FROM u, t RETURNING id)
		INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status, completed_at)
		SELECT w.id, 1, t.active_version_id, 'start', 'succeeded', now() FROM w, t`)
	require.NoError(b, err)
	_, err = bb.db.Pool.Exec(context.Background(), "ANALYZE")
	require.NoError(b, err)
	b.ResetTimer()
	for range b.N {
		res, v := call(b, "GET", bb.srv.URL+"/api/v2/workspaces?limit=50", "", admin...)
		require.Equal(b, http.StatusOK, res.StatusCode, v)
		require.Len(b, v["workspaces"], 50)
		require.EqualValues(b, 2000, v["count"], "counted over all pages")
	}
}
