package api

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
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
	require.Contains(t, m, `hearth_provisioner_jobs_unmatched{tags="region=nowhere"} 1`)
	require.Regexp(t, `hearth_river_jobs\{kind="[a-z_]+",state="available"\} 1`, m)

	// What the deployment material scales and watches on (the chart's KEDA query, infra/keda, the
	// Grafana dashboard) is what the server exports; a histogram's series are its _bucket, _sum and
	// _count.
	for _, name := range referencedMetrics(t, "../infra/helm/hearth/templates/*.yaml", "../infra/keda/*.yaml", "../infra/grafana/*.json") {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && strings.Contains(m, "# TYPE "+b+" histogram") {
				base = b
			}
		}
		require.Regexp(t, `(?m)^# TYPE `+base+` `, m, "%s is referenced by the deployment material but not exported", name)
	}
}

// referencedMetrics lists the hearth_* metric names the files matching the patterns mention.
func referencedMetrics(t *testing.T, patterns ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	re := regexp.MustCompile(`\bhearth_[a-z0-9_]+`)
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		require.NoError(t, err)
		require.NotEmpty(t, files, p)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, m := range re.FindAllString(string(b), -1) {
				seen[m] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	require.NotEmpty(t, names)
	return names
}
