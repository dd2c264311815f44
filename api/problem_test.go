package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// A request its client canceled is not a server error; an unexpected error is one, with its text
// kept out of the response.
func TestProblemOfACanceledRequest(t *testing.T) {
	op := &huma.Operation{OperationID: "login"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v2/users/login", nil)
	err := huma.NewErrorWithContext(humatest.NewContext(op, r, httptest.NewRecorder()), http.StatusInternalServerError,
		"unexpected", fmt.Errorf("check password: %w", context.Canceled))
	require.Equal(t, StatusClientClosed, err.GetStatus())

	r = httptest.NewRequest(http.MethodPost, "/api/v2/users/login", nil)
	err = huma.NewErrorWithContext(humatest.NewContext(op, r, httptest.NewRecorder()), http.StatusInternalServerError,
		"unexpected", errors.New("connection refused: secret detail"))
	require.Equal(t, http.StatusInternalServerError, err.GetStatus())
	require.NotContains(t, err.Error(), "secret detail")
	// A canceled context of a request whose client is still there (a server-side timeout) is still a 500.
	err = huma.NewErrorWithContext(humatest.NewContext(op, r, httptest.NewRecorder()), http.StatusInternalServerError,
		"unexpected", context.Canceled)
	require.Equal(t, http.StatusInternalServerError, err.GetStatus())
}

// A request that fails because PostgreSQL cannot be reached is a 503 with Retry-After, not a 500:
// the deployment is down for a moment, and nothing is wrong with the request.
func TestAnUnreachableDatabaseIs503(t *testing.T) {
	t.Parallel()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	pool, err := pgxpool.New(context.Background(), "postgres://hearth@"+dead+"/hearth?connect_timeout=2")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	srv := testAPI(t, func(hapi huma.API) {
		huma.Get(hapi, "/count", func(ctx context.Context, _ *struct{}) (*struct{}, error) {
			var n int
			return nil, pool.QueryRow(ctx, "SELECT 1").Scan(&n)
		})
	})
	res, raw := get(t, srv.URL+"/count")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, string(raw))
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.Equal(t, "2", res.Header.Get("Retry-After"))
	require.Contains(t, string(raw), "The database is unavailable")
	require.NotContains(t, string(raw), dead, "no internal address reaches the client")
}
