package api

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The deployment's state figures on /metrics follow what happens: a finished build counts under its
// transition and status, with its run time among the recent ones; River's unfinished jobs and the
// connected agents are gauges.
func TestMetricsReportBuildsAgentsAndRiverJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	// A job that waits: an import for workers that do not exist.
	file := uploadTiny(t, b, admin)
	call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`","tags":{"region":"nowhere"}}`, admin...)
	startWorker(t, b, "w1")
	lifecycleTemplate(t, b, admin, t.TempDir(), "files")
	_, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"m","template":"files","parameters":[{"name":"region","value":"eu"}]}`, admin...)
	done := waitBuild(t, b, admin, ws["latest_build"].(map[string]any)["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)

	_, raw := get(t, b.srv.URL+"/metrics")
	m := string(raw)
	require.Contains(t, m, `hearth_workspace_builds_finished_total{status="succeeded",transition="start"} 1`)
	require.Regexp(t, `hearth_workspace_build_seconds\{quantile="0.95",transition="start"\} [0-9.e+-]+`, m)
	require.Contains(t, m, "hearth_workspace_agents_connected 0", "the template's agent never connects here")
	require.Regexp(t, `hearth_river_jobs\{kind="[a-z_]+",state="available"\} 1`, m)
}
