// Command spa serves a single-page app that signs in with PKCE in the
// browser, with no framework (static/app.js). Its client must be public,
// list the app's address as a redirect URI and its origin in
// allowed_origins, so that the browser may call /token.
//
//	go run ./examples/spa -issuer http://127.0.0.1:9000 -listen 127.0.0.1:5173
package main

import (
	"embed"
	"encoding/json"
	"flag"
	"io/fs"
	"log"
	"net/http"
	"time"
)

//go:embed static
var static embed.FS

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:9000", "the Keystile issuer URL")
	clientID := flag.String("client", "spa", "the public client id")
	listen := flag.String("listen", "127.0.0.1:5173", "HOST:PORT to serve the app on")
	flag.Parse()
	h, err := newSPA(*issuer, *clientID, "http://"+*listen+"/")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("spa: open http://%s/", *listen)
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newSPA serves the app's files and its config.json.
func newSPA(issuer, clientID, redirectURI string) (http.Handler, error) {
	files, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(map[string]string{
		"issuer": issuer, "client_id": clientID, "redirect_uri": redirectURI, "scope": "openid",
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(cfg)
	})
	mux.Handle("GET /", http.FileServerFS(files))
	return securityHeaders(issuer, mux), nil
}

// securityHeaders: the page runs its own script only and talks only to
// itself and the issuer.
func securityHeaders(issuer string, next http.Handler) http.Handler {
	csp := "default-src 'self'; connect-src 'self' " + issuer + "; frame-ancestors 'none'; base-uri 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
