package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hearthdev/hearth/internal/bootstrap"
)

// agentBinary serves the agent to workspaces' init scripts at /bin/hearth-agent-OS-ARCH (and the
// name earlier init scripts ask for): the file at path, for the server's own platform. It answers
// gzip to clients that accept it, and a weak ETag of the content, so that a script with a cached copy
// gets 304 and no bytes. Other platforms answer 404 with the reason, which the init script prints as
// it retries.
func agentBinary(path string) http.Handler {
	own := bootstrap.BinaryName(runtime.GOOS, runtime.GOARCH)
	old := bootstrap.OldBinaryName(runtime.GOOS, runtime.GOARCH)
	cache := &binaryCache{path: path}
	if path != "" {
		go func() { _, _ = cache.load() }() // compress before the first workspace asks
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file := r.PathValue("file")
		if path == "" || (file != own && file != old) {
			writeProblem(w, &Problem{Status: http.StatusNotFound, Title: "Not Found",
				Detail: "This server has no agent binary " + file + "; it serves " + own + " (its own platform) when run as hearth server."})
			return
		}
		b, err := cache.load()
		if err != nil {
			writeProblem(w, &Problem{Status: http.StatusInternalServerError, Title: "Internal Server Error", Detail: "The agent binary cannot be read."})
			errorLog.Load().Error("api: the agent binary cannot be read", "path", path, "error", err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "no-cache") // cache, but ask each time: the server may be upgraded
		h.Set("ETag", b.etag)
		h.Add("Vary", "Accept-Encoding")
		body := b.raw
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = b.gz
		}
		http.ServeContent(w, r, "", b.modTime, bytes.NewReader(body))
	})
}

// acceptsGzip says whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// binaryCache holds the agent binary and its gzip form in memory, read again when the file changes
// (a rebuilt binary in development).
type binaryCache struct {
	path string
	mu   sync.Mutex
	cur  *servedBinary
}

type servedBinary struct {
	size    int64
	modTime time.Time
	raw, gz []byte
	etag    string
}

func (c *binaryCache) load() (*servedBinary, error) {
	st, err := os.Stat(c.path)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.cur.size == st.Size() && c.cur.modTime.Equal(st.ModTime()) {
		return c.cur, nil
	}
	raw, err := os.ReadFile(c.path)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	// Weak: the gzip and the plain forms are the same agent, and either revalidates the other.
	c.cur = &servedBinary{size: st.Size(), modTime: st.ModTime(), raw: raw, gz: gz.Bytes(),
		etag: `W/"` + hex.EncodeToString(sum[:16]) + `"`}
	return c.cur, nil
}
