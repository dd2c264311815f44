package api

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func evalURL(b bundle, version string) string {
	return b.srv.URL + "/api/v2/template-versions/" + version + "/dynamic-parameters/evaluate"
}

// Parameters whose options depend on another parameter: the evaluate endpoint answers with the
// options the chosen values allow, and a build is checked against those, not the import's defaults.
func TestDynamicParametersDecideWhatABuildAccepts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	file := upload(t, b, admin, tarDir(t, "testdata/dynamic"))
	_, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], v)
	res, p := call(t, "POST", b.srv.URL+"/api/v2/templates", `{"name":"dynamic","version_id":"`+v["id"].(string)+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)

	res, ev := call(t, "POST", evalURL(b, v["id"].(string)), `{"values":{"cloud":"gcp"}}`, admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, ev)
	require.Equal(t, true, ev["dynamic"])
	var region map[string]any
	for _, x := range ev["parameters"].([]any) {
		if x.(map[string]any)["name"] == "region" {
			region = x.(map[string]any)
		}
	}
	require.Equal(t, []any{map[string]any{"name": "Netherlands", "value": "europe-west4"}}, region["options"])
	require.Equal(t, "europe-west4", region["value"])

	res, p = call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"bad","template":"dynamic","parameters":[{"name":"cloud","value":"gcp"},{"name":"region","value":"us-east-1"}]}`, admin...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "an AWS region on Google Cloud: %v", p)
	require.Equal(t, "body.parameters.region", firstLocation(p))
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"good","template":"dynamic","parameters":[{"name":"cloud","value":"gcp"},{"name":"region","value":"europe-west4"}]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, "accepted, though the import (with cloud's default) listed only AWS regions: %v", ws)
	done := waitBuild(t, b, admin, ws["latest_build"].(map[string]any)["id"].(string))
	require.Equal(t, "succeeded", done["status"], "and Terraform agrees: %v", done)

	res, _ = call(t, "POST", evalURL(b, "00000000-0000-4000-8000-000000000000"), `{"values":{}}`, admin...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// The evaluate endpoint as a form calls it on every keystroke (target: p95 at most 50 ms).
func BenchmarkEvaluateDynamicParameters(b *testing.B) {
	bb := setup(b)
	admin := []string{"Authorization", "Bearer " + owner(b, bb)}
	startWorker(b, bb, "w1")
	file := upload(b, bb, admin, tarDir(b, "testdata/dynamic"))
	_, v := call(b, "POST", bb.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
	v = waitVersion(b, bb, admin, v["id"].(string))
	url := evalURL(bb, v["id"].(string))
	clouds := []string{"aws", "gcp"}
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		res, _ := call(b, "POST", url, `{"values":{"cloud":"`+clouds[i%2]+`"}}`, admin...)
		took = append(took, time.Since(start))
		require.Equal(b, http.StatusOK, res.StatusCode)
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
}
