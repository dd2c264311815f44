package workspace

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type key struct{}

// A detached connection outlives its request: it keeps the request's values, is not ended with
// it, and a panic in it is logged instead of ending the server.
func TestADetachedConnectionOutlivesItsRequest(t *testing.T) {
	t.Parallel()
	logged := make(logLines, 4)
	h := handlers{Deps: Deps{Logger: slog.New(slog.NewTextHandler(logged, nil))}}
	ctx, endRequest := context.WithCancel(context.WithValue(context.Background(), key{}, "the caller"))
	r := httptest.NewRequest("GET", "/api/v2/workspaceagents/me/tunnel", nil).WithContext(ctx)

	served := make(chan context.Context, 1)
	h.detach(r, "agent tunnel", func(ctx context.Context) { served <- ctx })
	endRequest()
	got := <-served
	require.Equal(t, "the caller", got.Value(key{}))
	require.NoError(t, got.Err(), "the request's end does not end the connection")

	h.detach(r, "agent tunnel", func(context.Context) { panic("a broken stream") })
	select {
	case line := <-logged:
		require.Contains(t, line, "panic while serving a connection")
		require.Contains(t, line, "a broken stream")
	case <-time.After(5 * time.Second):
		t.Fatal("the panic was not logged")
	}
}

// logLines passes each line logged to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}
