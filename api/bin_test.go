package api

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/bootstrap"
)

// The agent binary is served to init scripts as it is on disk, plain or gzipped, with an ETag
// that spares a script with a cached copy the download; a rebuilt binary is served at once, and a
// platform the server does not serve is refused with the reason.
func TestTheAgentBinaryIsServedAsItIsOnDisk(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hearth-agent")
	first := bytes.Repeat([]byte("an agent binary, "), 10000)
	require.NoError(t, os.WriteFile(path, first, 0o755))
	mux := http.NewServeMux()
	mux.Handle("GET /bin/{file}", agentBinary(path))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	own := srv.URL + "/bin/" + bootstrap.BinaryName(runtime.GOOS, runtime.GOARCH)

	get := func(url string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "identity") // no transparent gzip: the test asks for it itself
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = res.Body.Close() }()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, body
	}
	gunzip := func(b []byte) []byte {
		t.Helper()
		zr, err := gzip.NewReader(bytes.NewReader(b))
		require.NoError(t, err)
		out, err := io.ReadAll(zr)
		require.NoError(t, err)
		return out
	}

	res, body := get(own)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, first, body)
	etag := res.Header.Get("ETag")
	require.NotEmpty(t, etag)

	res, body = get(own, "Accept-Encoding", "gzip")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	require.Less(t, len(body), len(first))
	require.Equal(t, first, gunzip(body))
	require.Equal(t, etag, res.Header.Get("ETag"), "one ETag for both forms")

	res, body = get(own, "Accept-Encoding", "gzip", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, res.StatusCode)
	require.Empty(t, body)

	// Rebuilt: the new binary, with a new ETag, in both forms.
	rebuilt := bytes.Repeat([]byte("a rebuilt agent binary, "), 9000)
	require.NoError(t, os.WriteFile(path, rebuilt, 0o755))
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(path, later, later))
	res, body = get(own, "If-None-Match", etag)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, rebuilt, body)
	require.NotEqual(t, etag, res.Header.Get("ETag"))
	_, body = get(own, "Accept-Encoding", "gzip")
	require.Equal(t, rebuilt, gunzip(body))

	other := "windows"
	if runtime.GOOS == other {
		other = "linux"
	}
	res, body = get(srv.URL + "/bin/" + bootstrap.BinaryName(other, runtime.GOARCH))
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Contains(t, string(body), "it serves "+bootstrap.BinaryName(runtime.GOOS, runtime.GOARCH))

	// Gone from disk: an error naming no path, and the server keeps serving once it is back.
	require.NoError(t, os.Remove(path))
	res, body = get(own)
	require.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.Contains(t, string(body), "cannot be read")
	require.NotContains(t, string(body), path)
	require.NoError(t, os.WriteFile(path, first, 0o755))
	_, body = get(own)
	require.Equal(t, first, body)
}
