package keystile_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store/memory"
)

// ExampleNew embeds Keystile in a chi application: one Config, a callback
// that checks credentials and returns the subject and custom claims, and the
// router mounted at the issuer's root.
func ExampleNew() {
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key, _ := keystile.NewSigningKey(secret)
	ks, err := keystile.New(keystile.Config{
		Issuer:  issuer,
		Clients: []keystile.Client{{ID: "spa", Public: true, RedirectURIs: []string{"https://app.example.com/cb"}}},
		Store:   memory.New(),
		Keys:    []keystile.SigningKey{key},
		ValidateUser: func(ctx context.Context, username, password string) (keystile.Identity, error) {
			if username == "alice" && password == "correct horse" { // look the user up for real
				return keystile.Identity{Subject: "alice", Claims: map[string]any{"role": "admin"}}, nil
			}
			return keystile.Identity{}, keystile.ErrInvalidCredentials
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := chi.NewRouter()
	r.Mount("/", ks.Handler())
	srv.Config.Handler = r
	srv.Start()
	defer srv.Close()

	resp, err := http.Get(issuer + "/.well-known/oauth-authorization-server")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var meta struct {
		TokenEndpoint string   `json:"token_endpoint"`
		PKCE          []string `json:"code_challenge_methods_supported"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&meta)
	fmt.Println(strings.TrimPrefix(meta.TokenEndpoint, issuer), meta.PKCE)
	// Output: /token [S256]
}

// ExampleRequireClaim guards an API route: Verifier.Middleware checks the
// bearer token (401 when it is missing or bad) and RequireClaim the claim
// (403 when the token lacks it).
func ExampleRequireClaim() {
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key, _ := keystile.NewSigningKey(secret)
	clientSecret, clientHash, _ := password.NewClientSecret()
	ks, err := keystile.New(keystile.Config{
		Issuer: issuer,
		Clients: []keystile.Client{
			{ID: "admin-bot", SecretHash: clientHash, GrantTypes: []string{keystile.GrantClientCredentials}, Claims: map[string]any{"role": "admin"}},
			{ID: "report-bot", SecretHash: clientHash, GrantTypes: []string{keystile.GrantClientCredentials}, Claims: map[string]any{"role": "reporter"}},
		},
		Store: memory.New(),
		Keys:  []keystile.SigningKey{key},
		ValidateUser: func(context.Context, string, string) (keystile.Identity, error) {
			return keystile.Identity{}, keystile.ErrInvalidCredentials
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := chi.NewRouter()
	r.Mount("/", ks.Handler())
	r.With(ks.Verifier().Middleware, keystile.RequireClaim("role", "admin")).Get("/admin", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := keystile.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.Subject())
	})
	srv.Config.Handler = r
	srv.Start()
	defer srv.Close()

	tokenFor := func(clientID string) string {
		req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, clientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&tok)
		return tok.AccessToken
	}
	for _, bearer := range []string{tokenFor("admin-bot"), tokenFor("report-bot"), ""} {
		req, _ := http.NewRequest(http.MethodGet, issuer+"/admin", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// 403
	// 401
}

// ExampleVerifier_ProtectedResourceMetadata guards an API that is one of an
// issuer's resources (RFC 8707): it accepts only tokens minted for it, and
// its challenges point clients to its RFC 9728 metadata.
func ExampleVerifier_ProtectedResourceMetadata() {
	v, err := keystile.NewVerifier(keystile.VerifierConfig{
		Issuer:          "https://auth.example.com",
		HS256Secret:     []byte("an HS256 secret of at least 32 bytes!"), // or JWKSURL
		Resource:        "https://photos.example.com/api",
		ScopesSupported: []string{"photos:read"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource/", v.ProtectedResourceMetadata())
	mux.Handle("/api/", v.Middleware(keystile.RequireClaim("scope", "photos:read")(http.NotFoundHandler())))

	rr := httptest.NewRecorder()
	mux.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "https://photos.example.com/api/albums", nil))
	fmt.Println(rr.Result().StatusCode, rr.Result().Header.Get("WWW-Authenticate"))

	rr = httptest.NewRecorder()
	mux.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "https://photos.example.com/.well-known/oauth-protected-resource/api", nil))
	fmt.Print(rr.Body.String())
	// Output:
	// 401 Bearer realm="keystile", resource_metadata="https://photos.example.com/.well-known/oauth-protected-resource/api"
	// {"authorization_servers":["https://auth.example.com"],"bearer_methods_supported":["header"],"resource":"https://photos.example.com/api","scopes_supported":["photos:read"]}
}
