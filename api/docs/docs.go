// Package docs serves interactive API documentation (Swagger UI) from assets embedded in the binary, so
// the docs work in air-gapped deployments. The assets come from the pinned swagger-ui-dist npm package
// (web/package.json) and are copied here by `go tool task gen`.
package docs

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

var page = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hearth API</title>
<link rel="stylesheet" href="{{.Base}}/assets/swagger-ui.css">
</head>
<body>
<div id="docs"></div>
<script src="{{.Base}}/assets/swagger-ui-bundle.js"></script>
<script src="{{.Base}}/assets/init.js" data-spec="{{.Spec}}"></script>
</body>
</html>
`))

// initJS starts Swagger UI; it is a file rather than an inline script so the page's
// Content-Security-Policy can forbid inline scripts.
const initJS = `const s = document.currentScript;
window.ui = SwaggerUIBundle({ url: s.dataset.spec, dom_id: "#docs", deepLinking: true });
`

// Handler serves the docs page at its mount point (for example /api/v2/docs) and the assets below it,
// showing the OpenAPI document at specURL.
func Handler(specURL string) http.Handler {
	sub, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		base, rest, isAsset := strings.Cut(r.URL.Path, "/assets/")
		switch {
		case isAsset && rest == "init.js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			_, _ = w.Write([]byte(initJS))
		case isAsset:
			w.Header().Set("Cache-Control", "public, max-age=86400")
			http.StripPrefix(base+"/assets", files).ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			_ = page.Execute(w, struct{ Base, Spec string }{strings.TrimSuffix(r.URL.Path, "/"), specURL})
		}
	})
}
