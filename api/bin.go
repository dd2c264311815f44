package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
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
	cache := &binaryCache{}
	if path != "" {
		go func() { // compress before the first workspace asks
			if f, err := os.Open(path); err == nil {
				_, _ = cache.load(f)
				_ = f.Close()
			}
		}()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file := r.PathValue("file")
		if path == "" || (file != own && file != old) {
			writeProblem(w, &Problem{Status: http.StatusNotFound, Title: "Not Found",
				Detail: "This server has no agent binary " + file + "; it serves " + own + " (its own platform) when run as hearth server."})
			return
		}
		f, err := os.Open(path)
		var b *servedBinary
		if err == nil {
			defer func() { _ = f.Close() }()
			b, err = cache.load(f)
		}
		if err != nil {
			writeProblem(w, &Problem{Status: http.StatusInternalServerError, Title: "Internal Server Error", Detail: "The agent binary cannot be read."})
			logger().Error("api: the agent binary cannot be read", "path", path, "error", err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "no-cache") // cache, but ask each time: the server may be upgraded
		h.Set("ETag", b.etag)
		h.Add("Vary", "Accept-Encoding")
		var body io.ReadSeeker = f // the plain form from the file this request opened
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = bytes.NewReader(b.gz)
		}
		http.ServeContent(w, r, "", b.modTime, body)
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

// binaryCache holds the agent binary's gzip form and ETag in memory (the plain form is read from
// the file: tens of MiB the server need not hold), made again when the file changes (a rebuilt
// binary in development).
type binaryCache struct {
	mu  sync.Mutex
	cur *servedBinary
}

type servedBinary struct {
	size    int64
	modTime time.Time
	gz      []byte
	etag    string
}

// load returns the cache for the open file f, reading f once (and leaving it at its start) when
// the cache was made from another version of it.
func (c *binaryCache) load(f *os.File) (*servedBinary, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.cur.size == st.Size() && c.cur.modTime.Equal(st.ModTime()) {
		return c.cur, nil
	}
	var gz bytes.Buffer
	sum := sha256.New()
	zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if _, err := io.Copy(io.MultiWriter(zw, sum), f); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// Weak: the gzip and the plain forms are the same agent, and either revalidates the other.
	c.cur = &servedBinary{size: st.Size(), modTime: st.ModTime(), gz: bytes.Clone(gz.Bytes()), // no spare capacity held
		etag: `W/"` + hex.EncodeToString(sum.Sum(nil)[:16]) + `"`}
	return c.cur, nil
}
