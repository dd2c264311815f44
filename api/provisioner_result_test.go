package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/internal/riverclaim"
)

// A result is delivered exactly once: a worker that did not hear the answer sends it again, and the
// second delivery changes nothing.
func TestAResultDeliveredTwiceIsStoredOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	id := newVersion(t, b, admin, tinyTarBytes())
	status, job := acquire(t, b, testPSK, "twice")
	require.Equal(t, http.StatusOK, status)
	token := []string{"Authorization", "Bearer " + job["token"].(string)}
	jobURL := fmt.Sprintf("%s/api/v2/provisioners/jobs/%d", b.srv.URL, int64(job["id"].(float64)))

	result := `{"import":{"parameters":[{"name":"size","type":"string","required":false,"mutable":false,"ephemeral":false,"order":0,"options":[]}],"variables":[],"resources":[]}}`
	res, _ := call(t, "POST", jobURL+"/complete", result, token...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, p := call(t, "POST", jobURL+"/complete", result, token...)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "the same result again is a no-op: %v", p)
	v := waitVersion(t, b, admin, id)
	require.Equal(t, "succeeded", v["status"])
	require.Len(t, v["parameters"], 1)

	res, _ = call(t, "POST", jobURL+"/fail", `{"error":"late second thoughts"}`, token...)
	require.Equal(t, http.StatusConflict, res.StatusCode, "a failure after the success is refused")
	v = waitVersion(t, b, admin, id)
	require.Equal(t, "succeeded", v["status"], "and changes nothing")
}

// A worker cut off from every replica for longer than its lease loses the job to the reaper; when
// its result gets through before another attempt took the job, what it did is recorded, not lost.
func TestALateResultIsRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t) // leases last 2 seconds here
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	id := newVersion(t, b, admin, tinyTarBytes())
	status, job := acquire(t, b, testPSK, "cut-off")
	require.Equal(t, http.StatusOK, status)
	token := []string{"Authorization", "Bearer " + job["token"].(string)}
	jobURL := fmt.Sprintf("%s/api/v2/provisioners/jobs/%d", b.srv.URL, int64(job["id"].(float64)))

	claimer := riverclaim.New(b.db.Pool, "test")
	waitFor(t, func() bool {
		_, _ = provisioning.ReapLeases(ctx, b.db, claimer, nil, testLogger())
		_, v := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
		return v["status"] == "pending"
	}, "the reaper to take the job back")

	res, p := call(t, "POST", jobURL+"/complete", `{"import":{"parameters":[],"variables":[],"resources":[]}}`, token...)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%v", p)
	require.Equal(t, "succeeded", waitVersion(t, b, admin, id)["status"])
	_, logs := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id+"/logs", "", admin...)
	require.Contains(t, fmt.Sprint(logs["logs"]), "the worker's result arrived after the job had ended")

	// Nothing is left to run again.
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/provisioners/acquire", `{"name":"next","wait_seconds":1}`, "Hearth-Provisioner-Key", testPSK)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
}

// While the database is unreachable nobody can receive heartbeats; that time does not count against
// the workers' leases (measured on the database's clock, by the gap in the reaper's ticks).
func TestAnOutageDoesNotCostWorkersTheirLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	id := newVersion(t, b, admin, tinyTarBytes())
	status, job := acquire(t, b, testPSK, "patient")
	require.Equal(t, http.StatusOK, status)
	claimer := riverclaim.New(b.db.Pool, "test")
	_, err := provisioning.ReapLeases(ctx, b.db, claimer, nil, testLogger()) // a tick before the outage
	require.NoError(t, err)

	// As the database's clock sees a 60-second outage: the last tick and the last heartbeat are a
	// minute old, and the lease ran out during it.
	_, err = b.db.Pool.Exec(ctx, `UPDATE provisioner_lease_clock SET ticked_at = now() - interval '60 seconds'`)
	require.NoError(t, err)
	_, err = b.db.Pool.Exec(ctx, `UPDATE provisioner_leases SET heartbeat_at = now() - interval '60 seconds', expires_at = now() - interval '30 seconds'`)
	require.NoError(t, err)
	n, err := provisioning.ReapLeases(ctx, b.db, claimer, nil, testLogger())
	require.NoError(t, err)
	require.Zero(t, n, "the lease was extended by the outage, not reaped")
	_, v := call(t, "GET", b.srv.URL+"/api/v2/template-versions/"+id, "", admin...)
	require.Equal(t, "running", v["status"])

	token := []string{"Authorization", "Bearer " + job["token"].(string)}
	jobURL := fmt.Sprintf("%s/api/v2/provisioners/jobs/%d", b.srv.URL, int64(job["id"].(float64)))
	res, _ := call(t, "POST", jobURL+"/heartbeat", `{"result_pending":true}`, token...)
	require.Equal(t, http.StatusOK, res.StatusCode, "the worker still holds its job")
	var pending bool
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT result_pending FROM provisioner_leases`).Scan(&pending))
	require.True(t, pending)

	// A lease heartbeated during a gap gains only the time since its heartbeat: a worker silent while
	// the database was up is not covered by the gap, and loses its job.
	_, err = b.db.Pool.Exec(ctx, `UPDATE provisioner_lease_clock SET ticked_at = now() - interval '60 seconds';
		UPDATE provisioner_leases SET heartbeat_at = now() - interval '1 second', expires_at = now() - interval '10 seconds'`)
	require.NoError(t, err)
	n, err = provisioning.ReapLeases(ctx, b.db, claimer, nil, testLogger())
	require.NoError(t, err)
	require.Equal(t, 1, n, "extended by about a second, still expired")
}

// waitFor polls cond until it holds, failing the test after 30 seconds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
		time.Sleep(50 * time.Millisecond)
	}
}
