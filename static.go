package keystile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// staticAsset is one embedded file, read once at start-up.
type staticAsset struct {
	body        []byte
	contentType string
	etag        string
}

// staticTypes are set explicitly rather than taken from the system's MIME
// table, which varies between machines.
var staticTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
}

// staticAssets maps a file's name below static/ ("keystile.css") to its
// content. Only regular files are in it, so a directory, a path with ".."
// or any other name is simply not found.
var staticAssets = mustLoadStatic()

func mustLoadStatic() map[string]staticAsset {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(fmt.Errorf("keystile: opening embedded static files: %w", err))
	}
	assets := map[string]staticAsset{}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		ct, ok := staticTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		assets[name] = newStaticAsset(body, ct)
		return nil
	})
	if err != nil {
		panic(fmt.Errorf("keystile: loading embedded static files: %w", err))
	}
	return assets
}

func newStaticAsset(body []byte, contentType string) staticAsset {
	sum := sha256.Sum256(body)
	return staticAsset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// staticHandler serves the server's static files: the embedded ones, with
// the branding's logo and theme.css.
func (s *Server) staticHandler() http.Handler { return serveAssets(s.pages.assets) }

// serveAssets serves assets, the files below static/ by name. It is
// registered as "/static/*" on a chi router mounted at the issuer's path;
// the file name is the route's wildcard, so the mount prefix does not
// matter. Without a chi route it takes what follows the first "/static/" of
// the path. There are no directory listings: only the assets' exact names
// are found.
func serveAssets(assets map[string]staticAsset) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := assets[staticName(r)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		// An SVG opened directly is a document; it gets nothing to run.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// staticName is the requested file's name relative to static/, or "" when
// there is none.
func staticName(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		// The last "*" is this route's: a Mount adds its own before it.
		if i := lastIndex(rctx.URLParams.Keys, "*"); i >= 0 {
			name := rctx.URLParams.Values[i]
			// chi routes on the escaped path when there is one.
			if r.URL.RawPath != "" {
				unescaped, err := url.PathUnescape(name)
				if err != nil {
					return ""
				}
				name = unescaped
			}
			return name
		}
	}
	_, name, ok := strings.Cut(r.URL.Path, "/static/")
	if !ok {
		return ""
	}
	return name
}

func lastIndex(keys []string, key string) int {
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i] == key {
			return i
		}
	}
	return -1
}
