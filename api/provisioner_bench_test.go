package api

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/dbtest"
)

// BenchmarkJobReachesIdleWorker measures the time from creating a template version (which inserts its
// job) to an idle worker's waiting acquire answering with it. Reported: p50 and p95.
func BenchmarkJobReachesIdleWorker(b *testing.B) {
	bb := setup(b)
	admin := []string{"Authorization", "Bearer " + owner(b, bb)}
	file := uploadTiny(b, bb, admin)
	var lat, create []time.Duration
	for range b.N {
		type answer struct {
			at   time.Time
			body map[string]any
		}
		got := make(chan answer, 1)
		go func() {
			_, body := call(b, "POST", bb.srv.URL+"/api/v2/provisioners/acquire", `{"name":"idle","wait_seconds":30}`, "Hearth-Provisioner-Key", testPSK)
			got <- answer{time.Now(), body}
		}()
		time.Sleep(20 * time.Millisecond) // let the acquire start waiting: the worker must be idle
		// Timed from before the request that inserts the job, so the figure is an upper bound: it
		// includes that request's own work (auth, insert, commit).
		sent := time.Now()
		call(b, "POST", bb.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
		create = append(create, time.Since(sent))
		a := <-got
		lat = append(lat, a.at.Sub(sent))
		call(b, "POST", fmt.Sprintf("%s/api/v2/provisioners/jobs/%d/complete", bb.srv.URL, int64(a.body["id"].(float64))),
			`{"import":{"parameters":[],"variables":[],"resources":[]}}`, "Authorization", "Bearer "+a.body["token"].(string))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	// The inserting request's own part of it, for reading the figures above.
	sort.Slice(create, func(i, j int) bool { return create[i] < create[j] })
	b.ReportMetric(float64(create[len(create)/2].Microseconds())/1000, "insert-p50-ms")
}

// BenchmarkClaimThroughput measures jobs claimed and completed per second through the API by 20
// concurrent workers, the way the worker asks for them: acquire when idle, then each result asks for
// the next job (no Terraform).
func BenchmarkClaimThroughput(b *testing.B) {
	// Twenty workers are twenty clients with a connection each; the default transport keeps only
	// two idle connections per host and would measure connection set-up instead.
	tr := http.DefaultTransport.(*http.Transport)
	old := tr.MaxIdleConnsPerHost
	tr.MaxIdleConnsPerHost = 32
	b.Cleanup(func() { tr.MaxIdleConnsPerHost = old })
	bb := setupOn(b, dbtest.NewSized(b, db.DefaultMaxConns), nil) // the server's pool
	admin := []string{"Authorization", "Bearer " + owner(b, bb)}
	file := uploadTiny(b, bb, admin)
	for range b.N {
		res, v := call(b, "POST", bb.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
		require.Equal(b, http.StatusCreated, res.StatusCode, v)
	}
	// Statistics as a live deployment has them: PostgreSQL plans from them, and a table that was
	// empty a moment ago would be planned for as empty.
	_, err := bb.db.Pool.Exec(context.Background(), "ANALYZE")
	require.NoError(b, err)
	b.ResetTimer()
	busy := machineBusy(b)
	var wg sync.WaitGroup
	var done atomic.Int64
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, job := call(b, "POST", bb.srv.URL+"/api/v2/provisioners/acquire", fmt.Sprintf(`{"name":"w%d"}`, w), "Hearth-Provisioner-Key", testPSK)
				if res.StatusCode != http.StatusOK {
					return
				}
				for res.StatusCode == http.StatusOK {
					res, job = call(b, "POST", fmt.Sprintf("%s/api/v2/provisioners/jobs/%d/complete", bb.srv.URL, int64(job["id"].(float64))),
						`{"import":{"parameters":[],"variables":[],"resources":[]},"next":true}`, "Authorization", "Bearer "+job["token"].(string))
					done.Add(1)
				}
				require.Equal(b, http.StatusNoContent, res.StatusCode, job)
			}
		}()
	}
	wg.Wait()
	require.Equal(b, int64(b.N), done.Load(), "every job completed once")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	// The CPU a job costs, the server's and PostgreSQL's (and the workers' requests): steadier than
	// jobs/s on a machine whose speed varies, and what a change to the claim path moves.
	b.ReportMetric(float64((machineBusy(b)-busy).Microseconds())/float64(b.N), "cpu-µs/job")
}

// machineBusy is the CPU time the whole machine has spent not idle (all processes, all cores), from
// /proc/stat.
func machineBusy(b *testing.B) time.Duration {
	data, err := os.ReadFile("/proc/stat")
	require.NoError(b, err)
	line, _, _ := strings.Cut(string(data), "\n") // cpu user nice system idle iowait irq softirq steal ...
	f := strings.Fields(line)
	require.Greater(b, len(f), 8)
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 || i == 7 { // idle, iowait, steal
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(b, err)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func uploadTiny(b testing.TB, bb bundle, admin []string) string {
	id := newVersion(b, bb, admin, tinyTarBytes())
	_, v := call(b, "GET", bb.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
	// Take the version's own job out of the way.
	res, body := call(b, "POST", bb.srv.URL+"/api/v2/provisioners/acquire", `{"name":"setup"}`, "Hearth-Provisioner-Key", testPSK)
	require.Equal(b, http.StatusOK, res.StatusCode)
	call(b, "POST", fmt.Sprintf("%s/api/v2/provisioners/jobs/%d/complete", bb.srv.URL, int64(body["id"].(float64))),
		`{"import":{"parameters":[],"variables":[],"resources":[]}}`, "Authorization", "Bearer "+body["token"].(string))
	return v["file_id"].(string)
}

// BenchmarkTemplateImport measures a template version import of examples/templates/local end to end:
// create the version, a waiting worker runs terraform init and plan, the result is stored.
func BenchmarkTemplateImport(b *testing.B) {
	bb := setup(b)
	admin := []string{"Authorization", "Bearer " + owner(b, bb)}
	startWorker(b, bb, "bench")
	archive := tarDir(b, "../examples/templates/local")
	b.ResetTimer()
	for range b.N {
		v := waitVersion(b, bb, admin, newVersion(b, bb, admin, archive))
		require.Equal(b, "succeeded", v["status"])
	}
}
