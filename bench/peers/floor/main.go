// Command floor is the benchmark's lower bound: a client_credentials token
// endpoint with chi and golang-jwt that checks one client's secret, signs a
// JWT and stores and logs nothing. No real server can be cheaper per request
// with the same router, JWT library and algorithm; a ratio to it shows what
// a server's own work (storage, logging, validation) costs.
package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9100", "HOST:PORT")
	alg := flag.String("alg", "HS256", "HS256 | RS256 | ES256 | EdDSA")
	clientID := flag.String("client-id", "bench", "the one client")
	secret := flag.String("client-secret", "bench-secret-0123456789abcdef0123456789", "its secret")
	flag.Parse()

	method, key := signingKey(*alg)
	issuer := "http://" + *listen
	r := chi.NewRouter()
	// A 200 for bench/run.sh's start-up timer; the floor has no discovery.
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	r.Post("/token", func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if !ok || id != *clientID || subtle.ConstantTimeCompare([]byte(sec), []byte(*secret)) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		now := time.Now()
		t := jwt.NewWithClaims(method, jwt.MapClaims{
			"iss": issuer, "sub": id, "aud": issuer, "client_id": id,
			"iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(), "jti": rand.Text(),
		})
		t.Header["typ"] = "at+jwt"
		s, err := t.SignedString(key)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": s, "token_type": "Bearer", "expires_in": 900})
	})
	log.Fatal(http.ListenAndServe(*listen, r))
}

func signingKey(alg string) (jwt.SigningMethod, any) {
	switch alg {
	case "HS256":
		return jwt.SigningMethodHS256, []byte("floor-hs256-secret-0123456789abcdef0123456789")
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		return jwt.SigningMethodRS256, k
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		return jwt.SigningMethodES256, k
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		must(err)
		return jwt.SigningMethodEdDSA, k
	}
	log.Fatalf("unknown -alg %q", alg)
	return nil, nil
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
