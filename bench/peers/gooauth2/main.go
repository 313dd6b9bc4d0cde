// Command gooauth2 is go-oauth2/oauth2 v4 set up as its example server is:
// the default manager with the in-memory token store, one client, and JWT
// access tokens from its generates package. Only client_credentials is used
// by the benchmark.
package main

import (
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
	flag.Parse()

	manager := manage.NewDefaultManager()
	manager.MustTokenStorage(store.NewMemoryTokenStore())
	manager.MapAccessGenerate(generates.NewJWTAccessGenerate("", []byte("gooauth2-hs256-secret-0123456789abcdef0123"), jwt.SigningMethodHS256))
	clients := store.NewClientStore()
	if err := clients.Set(*clientID, &models.Client{ID: *clientID, Secret: *secret, Domain: "http://127.0.0.1"}); err != nil {
		log.Fatal(err)
	}
	manager.MapClientStorage(clients)
	srv := server.NewDefaultServer(manager)
	srv.SetAllowGetAccessRequest(false)
	srv.SetClientInfoHandler(server.ClientBasicHandler)
	http.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleTokenRequest(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
