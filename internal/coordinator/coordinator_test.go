package coordinator

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// A client's authority is not asked of the database every second: while nothing changes, the
// client is only touched (it is using the workspace); a change that could end its authority (here
// a share withdrawn, announced by the database's trigger when it commits) has it checked at once,
// and a refusal ends its coordination with the reason.
func TestClientsAreCheckedAgainWhenAuthorityMayHaveChanged(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := dbtest.New(t)
	revocations, err := pgnotify.Listen(ctx, d.Pool, authn.RevocationChannel, dbtest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = revocations.Close() })
	changes := &authz.Changes{}
	revocations.OnEach(func(string) { changes.Announce() }) // as the server does
	c := started(ctx, t, d, Config{ReplicaID: uuid.New(), Changes: changes})

	var checks, touches atomic.Int32
	var shared atomic.Bool
	shared.Store(true)
	user := uuid.New()
	peer := Peer{ID: uuid.New(), AgentID: uuid.New(), UserID: &user,
		Check: func(context.Context) error {
			checks.Add(1)
			if !shared.Load() {
				return errors.New("the workspace is no longer shared with you")
			}
			return nil
		},
		Touch: func() { touches.Add(1) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ws, err := websocket.Accept(w, r, nil); err == nil {
			_ = c.Serve(r.Context(), ws, peer)
		}
	}))
	t.Cleanup(srv.Close)
	node, err := tailnet.Dial(ctx, srv.URL, nil)
	require.NoError(t, err)
	defer func() { _ = node.Close() }()

	require.Eventually(t, func() bool { return touches.Load() >= 3 }, 10*time.Second, 50*time.Millisecond)
	require.Zero(t, checks.Load(), "nothing changed: no check")

	shared.Store(false)
	_, err = d.Pool.Exec(ctx, "DELETE FROM workspace_grants WHERE workspace_id = $1", uuid.New())
	require.NoError(t, err)
	ended, cancelEnded := context.WithTimeout(ctx, 10*time.Second) // well before RecheckInterval
	defer cancelEnded()
	for {
		if _, err = node.Next(ended); err != nil {
			break
		}
	}
	reason, revoked := tailnet.Revoked(err)
	require.True(t, revoked, "%v", err)
	require.Contains(t, reason, "no longer shared")
	require.Equal(t, int32(1), checks.Load())
}

// started starts a coordinator on d with cfg (its DB, listener and logger filled in), stopped when
// the test ends.
func started(ctx context.Context, t *testing.T, d *db.DB, cfg Config) *Coordinator {
	t.Helper()
	listener, err := pgnotify.Listen(ctx, d.Pool, Channel, dbtest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close() })
	cfg.DB, cfg.Listener, cfg.Logger = d, listener, dbtest.Logger()
	c := New(cfg)
	c.Start(ctx)
	t.Cleanup(func() { c.Stop(context.Background()) })
	return c
}
