package pgembed_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/pgembed"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, dir string) *pgembed.Cluster {
	t.Helper()
	c, err := pgembed.Start(context.Background(), pgembed.Config{Dir: dir, NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), sql)
	require.NoError(t, err)
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(dbtest.TempDir(t), "pg")
	c := start(t, dir)
	exec(t, c.URL(), "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
	require.NoError(t, c.Stop(context.Background()))
	select {
	case <-c.Done():
	default:
		t.Fatal("postgres still running after Stop")
	}
	_, err := os.Stat(filepath.Join(dir, "postmaster.pid"))
	require.ErrorIs(t, err, os.ErrNotExist, "a clean stop leaves no pid file")

	c = start(t, dir)
	conn, err := pgx.Connect(context.Background(), c.URL())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var v int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT v FROM kept").Scan(&v))
	require.Equal(t, 42, v)
}

func TestStalePidFileIsRemoved(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(dbtest.TempDir(t), "pg")
	c := start(t, dir)
	require.NoError(t, c.Stop(context.Background()))
	// What a crash leaves: a pid file naming a process that is gone (pid_max is at most 2^22).
	require.NoError(t, os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("4194399\n"+dir+"\n"), 0o600))
	c = start(t, dir)
	exec(t, c.URL(), "SELECT 1")
}

func TestRefusesADataDirectoryInUse(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(dbtest.TempDir(t), "pg")
	start(t, dir)
	_, err := pgembed.Start(context.Background(), pgembed.Config{Dir: dir})
	require.ErrorContains(t, err, "already running")
}

func TestRefusesANonEmptyDirectoryWithoutACluster(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(dbtest.TempDir(t), "pg")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600))
	_, err := pgembed.Start(context.Background(), pgembed.Config{Dir: dir})
	require.ErrorContains(t, err, "holds no PostgreSQL cluster")
	b, err := os.ReadFile(filepath.Join(dir, "notes.txt"))
	require.NoError(t, err)
	require.Equal(t, "mine", string(b), "nothing already there is touched")
}

func TestLongPathsUseAPrivateSocketDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(dbtest.TempDir(t), strings.Repeat("d", 90), "pg")
	c := start(t, dir)
	exec(t, c.URL(), "SELECT 1")
	require.NotContains(t, c.URL(), strings.Repeat("d", 90))
}

func TestNoBinariesNamesThePackage(t *testing.T) {
	t.Parallel()
	_, err := pgembed.FindBinaries(t.TempDir())
	require.ErrorIs(t, err, pgembed.ErrNoBinaries)
	require.ErrorContains(t, err, "apt-get install postgresql")
}

func TestRootRunsPostgresUnprivileged(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only meaningful when the tests run as root")
	}
	closed := filepath.Join(t.TempDir(), "closed") // t.TempDir's parent is 0700 root
	_, err := pgembed.Start(context.Background(), pgembed.Config{Dir: filepath.Join(closed, "pg")})
	require.ErrorContains(t, err, "cannot reach")

	c := start(t, filepath.Join(dbtest.TempDir(t), "pg"))
	conn, err := pgx.Connect(context.Background(), c.URL())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var dataDir string
	require.NoError(t, conn.QueryRow(context.Background(), "SHOW data_directory").Scan(&dataDir))
	pid, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	require.NoError(t, err)
	var p int
	_, err = fmt.Sscan(string(pid), &p)
	require.NoError(t, err)
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
	require.NoError(t, err)
	require.NotRegexp(t, `(?m)^Uid:\s+0\s`, string(st), "postgres must not run as root")
}

func TestStopEscalatesWhenContextEnds(t *testing.T) {
	t.Parallel()
	c := start(t, filepath.Join(dbtest.TempDir(t), "pg"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, c.Stop(ctx))
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("postgres did not exit")
	}
}
