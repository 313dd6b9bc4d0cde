// Command gooauth2 is go-oauth2/oauth2 v4 set up as its example server is:
// the default manager with the in-memory token store, one client, and JWT
// access tokens from its generates package. Only client_credentials is used
// by the benchmark. With -alg RS256 the generator gets a PEM RSA 2048 key
// made at start, as its documentation shows (it parses the PEM for every
// token: that is the library's cost, so it is measured as it is).
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"log"
	"net/http"

	"github.com/go-oauth2/oauth2/v4/generates"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
	"github.com/golang-jwt/jwt/v5"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9101", "HOST:PORT")
	clientID := flag.String("client-id", "bench", "the one client")
	secret := flag.String("client-secret", "bench-secret-0123456789abcdef0123456789", "its secret")
	alg := flag.String("alg", "HS256", "HS256 | RS256")
	flag.Parse()

	method, key := jwt.SigningMethod(jwt.SigningMethodHS256), []byte("gooauth2-hs256-secret-0123456789abcdef0123")
	switch *alg {
	case "HS256":
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			log.Fatal(err)
		}
		method, key = jwt.SigningMethodRS256, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	default:
		log.Fatalf("unknown -alg %q", *alg)
	}
	manager := manage.NewDefaultManager()
	manager.MustTokenStorage(store.NewMemoryTokenStore())
	manager.MapAccessGenerate(generates.NewJWTAccessGenerate("", key, method))
	clients := store.NewClientStore()
	if err := clients.Set(*clientID, &models.Client{ID: *clientID, Secret: *secret, Domain: "http://127.0.0.1"}); err != nil {
		log.Fatal(err)
	}
	manager.MapClientStorage(clients)
	srv := server.NewDefaultServer(manager)
	srv.SetAllowGetAccessRequest(false)
	srv.SetClientInfoHandler(server.ClientBasicHandler)
	// A 200 for bench/run.sh's start-up timer; go-oauth2 has no discovery.
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	http.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleTokenRequest(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
