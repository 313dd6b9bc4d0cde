// Command api is an API guarded by Keystile access tokens: it checks them
// against the issuer's JWKS, as any resource server in its own process
// does, and lets only role=admin call /admin.
//
//	go run ./examples/api -issuer http://127.0.0.1:9000 -listen 127.0.0.1:8081
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/keystile/keystile"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:9000", "the Keystile issuer URL")
	listen := flag.String("listen", "127.0.0.1:8081", "HOST:PORT to listen on")
	flag.Parse()
	api, err := newAPI(*issuer)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("api: listening on http://%s", *listen)
	srv := &http.Server{Addr: *listen, Handler: api, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newAPI returns the API's routes: /hello for any valid token, /admin for a
// token with role=admin. A missing or bad token gets 401, a token without
// the claim 403, both with WWW-Authenticate (RFC 6750).
func newAPI(issuer string) (http.Handler, error) {
	v, err := keystile.NewVerifier(keystile.VerifierConfig{
		Issuer:  issuer,
		JWKSURL: issuer + "/.well-known/jwks.json",
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /hello", v.Middleware(http.HandlerFunc(hello)))
	mux.Handle("GET /admin", v.Middleware(keystile.RequireClaim("role", "admin")(http.HandlerFunc(admin))))
	return mux, nil
}

func hello(w http.ResponseWriter, r *http.Request) {
	claims, _ := keystile.ClaimsFromContext(r.Context())
	writeJSON(w, map[string]any{"hello": claims.Subject(), "client": claims.ClientID()})
}

func admin(w http.ResponseWriter, r *http.Request) {
	claims, _ := keystile.ClaimsFromContext(r.Context())
	writeJSON(w, map[string]any{"admin": claims.Subject()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
