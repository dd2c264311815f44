package metadata_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/metadata"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Reports are kept in memory, the newest per item, and written for every agent in one flush; an
// older report never replaces a newer value, and an agent deleted meanwhile does not fail the rest.
func TestReportsAreWrittenTogetherAtTheFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	a, b, gone := dbtest.Agent(t, d, "ada"), dbtest.Agent(t, d, "bob"), dbtest.Agent(t, d, "cyd")
	buf := metadata.New(d, time.Hour, slog.Default())
	now := time.Now().UTC().Truncate(time.Microsecond)
	buf.Report(a, map[string]metadata.Value{"cpu": {Value: "10%", CollectedAt: now.Add(-time.Second)}})
	buf.Report(a, map[string]metadata.Value{"cpu": {Value: "20%", CollectedAt: now}, "disk": {Error: "df: not found", CollectedAt: now}})
	buf.Report(a, map[string]metadata.Value{"cpu": {Value: "stale", CollectedAt: now.Add(-time.Minute)}})
	buf.Report(b, map[string]metadata.Value{"cpu": {Value: "5%", CollectedAt: now}})
	buf.Report(gone, map[string]metadata.Value{"cpu": {Value: "1%", CollectedAt: now}})
	require.Equal(t, "20%", buf.Pending(a)["cpu"].Value, "the newest value, before any write")

	count := func() (n int) {
		require.NoError(t, d.Pool.QueryRow(ctx, `SELECT count(*) FROM workspace_agent_metadata`).Scan(&n))
		return n
	}
	require.Zero(t, count(), "nothing is written before the flush")
	_, err := d.Pool.Exec(ctx, `DELETE FROM workspace_agents WHERE id = $1`, gone)
	require.NoError(t, err)
	buf.Flush(ctx)
	require.Equal(t, 3, count(), "both live agents' values, in one statement")
	require.Empty(t, buf.Pending(a))
	rows, err := d.ListAgentMetadata(ctx, a)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, "cpu", rows[0].Key)
	require.Equal(t, "20%", rows[0].Value)
	require.Equal(t, "df: not found", rows[1].Error)

	// A late report of an older measurement does not overwrite what is stored.
	buf.Report(a, map[string]metadata.Value{"cpu": {Value: "older", CollectedAt: now.Add(-time.Hour)}})
	buf.Flush(ctx)
	rows, err = d.ListAgentMetadata(ctx, a)
	require.NoError(t, err)
	require.Equal(t, "20%", rows[0].Value)
}
