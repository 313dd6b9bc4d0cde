package main

import (
	"embed"
	"io/fs"
	"net/http"
)

// demoFiles is the quickstart's demo page: a single-page PKCE client.
//
//go:embed demo
var demoFiles embed.FS

// demoCSP allows the page's own script, style and fetch to this server, and
// nothing else: no inline code, no framing, no plugins.
const demoCSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// demoHandler serves the demo page at /demo/. Its URL receives the
// authorization code, so it is never cached and never sends a Referer.
func demoHandler() http.Handler {
	sub, err := fs.Sub(demoFiles, "demo")
	if err != nil {
		panic("keystile: the embedded demo folder is missing: " + err.Error()) // a build error
	}
	files := http.StripPrefix("/demo/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", demoCSP)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
