package metadata_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/metadata"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// agent makes a workspace agent in SQL (no Terraform) and returns its ID.
func agent(t *testing.T, d *db.DB, name string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := d.Pool.QueryRow(context.Background(), `
		WITH u AS (INSERT INTO users (username, email) VALUES ($1, $1 || '@example.com') RETURNING id),
		f AS (INSERT INTO files (hash, content_type, data) VALUES (sha256($1::bytea), 'application/x-tar', 'x') RETURNING hash),
		v AS (INSERT INTO template_versions (file_hash, status) SELECT hash, 'succeeded' FROM f RETURNING id),
		t AS (INSERT INTO templates (name, active_version_id) SELECT $1, id FROM v RETURNING id, active_version_id),
		w AS (INSERT INTO workspaces (owner_id, template_id, name) SELECT u.id, t.id, 'ws' FROM u, t RETURNING id),
		b AS (INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status)
		      SELECT w.id, 1, t.active_version_id, 'start', 'succeeded' FROM w, t RETURNING id),
		r AS (INSERT INTO workspace_resources (build_id, type, name) SELECT id, 'null_resource', 'x' FROM b RETURNING id, build_id)
		INSERT INTO workspace_agents (resource_id, build_id, name, os, arch, token_hash)
		SELECT r.id, r.build_id, 'main', 'linux', 'amd64', sha256($1::bytea) FROM r RETURNING id`, name).Scan(&id)
	require.NoError(t, err)
	return id
}

// Reports are kept in memory, the newest per item, and written for every agent in one flush; an
// older report never replaces a newer value, and an agent deleted meanwhile does not fail the rest.
func TestReportsAreWrittenTogetherAtTheFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	a, b, gone := agent(t, d, "ada"), agent(t, d, "bob"), agent(t, d, "cyd")
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
