// Package web serves the dashboard's built assets from the binary. The dashboard builds into
// dist/app (go tool task build or dev, which run vite); a binary built without it serves the
// placeholder page in dist/index.html, which says how to build it.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Handler serves the dashboard: files under assets/ (content-hashed names) are immutable, everything
// else is no-cache, and paths that are not files get index.html so client-side routes load.
func Handler() http.Handler {
	sub, _ := fs.Sub(dist, "dist")
	if _, err := fs.Stat(sub, "app/index.html"); err == nil {
		sub, _ = fs.Sub(sub, "app")
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if p == "" {
			p = "index.html"
		}
		if fi, err := fs.Stat(sub, p); err != nil || fi.IsDir() {
			r = r.Clone(r.Context())
			r.URL.Path = "/"
		}
		if strings.HasPrefix(p, "assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// Scripts only from this origin, no inline script; the terminal sets inline styles.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "+
			"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("Referrer-Policy", "same-origin")
		files.ServeHTTP(w, r)
	})
}
