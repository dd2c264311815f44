package workspace

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type key struct{}

// A detached connection outlives its request: it keeps the request's values, is not ended with
// it, and a panic in it is logged instead of ending the server.
func TestADetachedConnectionOutlivesItsRequest(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var log bytes.Buffer
	h := handlers{Deps: Deps{Logger: slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &log}, nil))}}
	ctx, endRequest := context.WithCancel(context.WithValue(context.Background(), key{}, "the caller"))
	r := httptest.NewRequest("GET", "/api/v2/workspaceagents/me/tunnel", nil).WithContext(ctx)

	served := make(chan context.Context, 1)
	h.detach(r, "agent tunnel", func(ctx context.Context) { served <- ctx })
	endRequest()
	got := <-served
	require.Equal(t, "the caller", got.Value(key{}))
	require.NoError(t, got.Err(), "the request's end does not end the connection")

	h.detach(r, "agent tunnel", func(context.Context) { panic("a broken stream") })
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Contains(log.Bytes(), []byte("panic while serving a connection")) &&
			bytes.Contains(log.Bytes(), []byte("a broken stream"))
	}, 5*time.Second, 10*time.Millisecond)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
