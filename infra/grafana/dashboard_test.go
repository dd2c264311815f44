// Package grafana checks the Grafana dashboard: it is a dashboard Grafana loads (its panels, their
// places and data source), and every query parses as PromQL and reads only Hearth's metrics, which
// the api package's tests check the server exports.
package grafana

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Panels        []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
}

func TestEveryQueryParsesAndReadsHearthsMetrics(t *testing.T) {
	raw, err := os.ReadFile("hearth.json")
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	require.Equal(t, "hearth", d.UID)
	require.NotEmpty(t, d.Panels)
	ids := map[int]bool{}
	metrics := map[string]bool{}
	for _, p := range d.Panels {
		require.False(t, ids[p.ID], "panel ids are unique: %d", p.ID)
		ids[p.ID] = true
		require.Equal(t, "prometheus", p.Datasource.Type, p.Title)
		require.Positive(t, p.GridPos.W, p.Title)
		require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "%s fits the grid", p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, target := range p.Targets {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(target.Expr)
			require.NoError(t, err, "%s: %s", p.Title, target.Expr)
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					require.True(t, strings.HasPrefix(vs.Name, "hearth_"), "%s reads %s, not one of Hearth's metrics", p.Title, vs.Name)
					metrics[vs.Name] = true
				}
				return nil
			})
		}
	}
	for _, want := range []string{"hearth_provisioner_jobs", "hearth_workspace_build_seconds", "hearth_provisioner_workers",
		"hearth_workspace_agents_connected", "hearth_http_request_duration_seconds_bucket", "hearth_db_pool_acquired_connections", "hearth_river_jobs"} {
		require.True(t, metrics[want], "the dashboard shows %s", want)
	}
}
