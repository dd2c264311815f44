package agent

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/client"
)

// Script output is uploaded once however many flushes run at once (the periodic one and the one
// that ends the startup scripts): every line arrives exactly once, in order, and the agent does
// not crash (two flushes removing the same lines once panicked it).
func TestLogsUploadOnceWhateverFlushesOverlap(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		var body client.UploadWorkspaceAgentLogsJSONRequestBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, l := range body.Logs {
			got = append(got, l.Output)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	api, err := client.NewClientWithResponses(srv.URL)
	require.NoError(t, err)
	u := newLogUploader(&agent{api: api, cfg: Config{Logger: slog.New(slog.DiscardHandler)}})

	const lines = 2000
	var want []string
	for i := range lines {
		want = append(want, fmt.Sprint("line ", i))
		u.add("startup", "info", want[i])
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { u.flush(t.Context()) })
	}
	wg.Wait()
	require.Equal(t, want, got)
	require.EqualValues(t, lines/500, requests.Load(), "500 lines a request")
}
