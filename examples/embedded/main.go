// Command embedded is an app that is its own identity provider: it mounts
// Keystile's routes next to its own, checks passwords against its own user
// table, and guards its API with the server's in-process verifier.
//
//	KEYSTILE_DEMO_PASSWORD='choose one' go run ./examples/embedded
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store/memory"
)

// user is a row of the app's own user table.
type user struct {
	passwordHash string // argon2id (password.Hash)
	role         string
}

func main() {
	pw := os.Getenv("KEYSTILE_DEMO_PASSWORD")
	if pw == "" {
		log.Fatal("set KEYSTILE_DEMO_PASSWORD to alice's password")
	}
	hash, err := password.Hash(pw)
	if err != nil {
		log.Fatal(err)
	}
	const addr = "127.0.0.1:8080"
	app, err := newApp("http://"+addr, map[string]user{"alice": {passwordHash: hash, role: "admin"}})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("embedded: listening on http://%s (sign-in client %q)", addr, "web")
	srv := &http.Server{Addr: addr, Handler: app, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newApp wires Keystile into the app's router. A real app keeps its key in
// a file (package keyfile) and its records in store/sqlite or
// store/postgres; this one lives in memory.
func newApp(issuer string, users map[string]user) (http.Handler, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := keystile.NewSigningKey(priv)
	if err != nil {
		return nil, err
	}
	lookup := func(username string) (keystile.Identity, bool) {
		u, ok := users[username]
		return keystile.Identity{Subject: username, Claims: map[string]any{"role": u.role}}, ok
	}
	idp, err := keystile.New(keystile.Config{
		Issuer: issuer,
		Clients: []keystile.Client{{
			ID: "web", Public: true,
			RedirectURIs: []string{"http://127.0.0.1/callback"},
			Scopes:       []string{"openid", "offline_access"},
		}},
		Store: memory.New(),
		Keys:  []keystile.SigningKey{key},
		ValidateUser: func(ctx context.Context, username, pw string) (keystile.Identity, error) {
			u, ok := users[username]
			if !ok {
				password.CheckUnknownUser(ctx, pw) // the same work for an unknown user
				return keystile.Identity{}, keystile.ErrInvalidCredentials
			}
			if ok, err := password.Check(ctx, u.passwordHash, pw); err != nil || !ok {
				return keystile.Identity{}, errors.Join(keystile.ErrInvalidCredentials, err)
			}
			id, _ := lookup(username)
			return id, nil
		},
		// Refreshes and single sign-on see the user as they are now.
		LookupUser: func(_ context.Context, subject string) (keystile.Identity, error) {
			if id, ok := lookup(subject); ok {
				return id, nil
			}
			return keystile.Identity{}, keystile.ErrUnknownUser
		},
	})
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Route("/api", func(api chi.Router) {
		api.Use(idp.Verifier().Middleware)
		api.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := keystile.ClaimsFromContext(r.Context())
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"sub": claims.Subject(), "role": claims["role"]})
		})
		api.With(keystile.RequireClaim("role", "admin")).Get("/admin", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("admin area\n"))
		})
	})
	r.Mount("/", idp.Handler()) // /authorize, /token, /.well-known/…
	return r, nil
}
