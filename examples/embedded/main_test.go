package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/password"
)

// TestEmbedded signs alice in through the app's own login form with
// x/oauth2 and PKCE, then calls the app's API with the token.
func TestEmbedded(t *testing.T) {
	hash, err := password.Hash("alice's password")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	app, err := newApp(issuer, map[string]user{"alice": {passwordHash: hash, role: "admin"}, "bob": {passwordHash: hash, role: "viewer"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = app
	srv.Start()
	defer srv.Close()
	ctx := t.Context()

	for user, want := range map[string]int{"alice": 200, "bob": 403} {
		tok := signIn(t, ctx, issuer, user, "alice's password")
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/api/admin", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s at /api/admin: status %d, want %d", user, resp.StatusCode, want)
		}
	}
	if resp, err := http.Get(issuer + "/api/me"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("/api/me without a token: %v %v", resp, err)
	}
}

func signIn(t *testing.T, ctx context.Context, issuer, user, pw string) *oauth2.Token {
	t.Helper()
	cfg := &oauth2.Config{ClientID: "web", RedirectURL: "http://127.0.0.1:9999/callback",
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authURL := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := testutil.LoginForm(t, string(body))
	fields := form.Hidden
	fields.Set("username", user)
	fields.Set("password", pw)
	action, err := resp.Request.URL.Parse(form.Action)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = browser.PostForm(action.String(), fields)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), cfg.RedirectURL) {
		t.Fatalf("after the login form: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
