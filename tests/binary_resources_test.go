package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keystile/keystile"
)

const (
	photosAPI   = "https://photos.example.test/api"
	calendarAPI = "https://calendar.example.test/api"
)

// TestBinaryResources runs `keystile serve` with two resources, three
// clients and a capability graph, and holds each client to its own APIs:
// tokens only for its resources, with only that resource's scopes and
// claims, invalid_target for the rest, the capability closure in the token,
// and an API's verifier refusing a token minted for the other (the audit's
// case: one client's token accepted by every API).
func TestBinaryResources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const password = "resource-owner password"
	hash := strings.TrimSpace(runBinary(t, password+"\n", "hash-password"))
	secret, secretHash := newClientSecret(t)
	addr := freePort(t)
	issuer := "http://" + addr
	const photosRedirect = "https://photos.example.test/cb"
	const calendarRedirect = "https://calendar.example.test/cb"
	writeFile(t, filepath.Join(dir, "users.yaml"), fmt.Sprintf(`users:
  - username: alice
    password_hash: %q
    claims: {role: admin, groups: [staff], email: alice@example.test, capabilities: [moderate]}
`, hash))
	writeFile(t, filepath.Join(dir, "keystile.yaml"), fmt.Sprintf(`issuer: %[1]s
listen: %[2]s
store: sqlite:keystile.db
signing: {algorithm: ES256, key_file: signing.pem}
users_file: users.yaml
resources:
  - id: %[3]s
    scopes: [photos:read, photos:write]
    claims: [role, groups, capabilities]
  - id: %[4]s
    scopes: [calendar:read]
    claims: [email]
capabilities:
  claim: capabilities
  graph: {read: [], write: [read], moderate: [read, write], admin: [moderate, user_management], user_management: []}
clients:
  - id: photos-spa
    public: true
    redirect_uris: [%[5]s]
    scopes: [openid, photos:read, calendar:read]
    resources: [%[3]s]
  - id: calendar-web
    secret_hash: %[6]q
    redirect_uris: [%[7]s]
    scopes: [openid, email, calendar:read, photos:read]
    resources: [%[4]s]
  - id: photos-bot
    secret_hash: %[6]q
    grant_types: [client_credentials]
    scopes: [photos:write]
    resources: [%[3]s]
    claims: {capabilities: write, email: bot@example.test}
  - id: photos-tv
    public: true
    grant_types: [urn:ietf:params:oauth:grant-type:device_code, refresh_token]
    scopes: [openid, photos:read, calendar:read, offline_access]
    resources: [%[3]s, %[4]s]
`, issuer, addr, photosAPI, calendarAPI, photosRedirect, secretHash, calendarRedirect))
	p := startBinary(t, dir, "serve", "--config", filepath.Join(dir, "keystile.yaml"))
	p.waitOutput(listeningRe)
	ctx := testContext(t)

	verifierFor := func(resource string) *keystile.Verifier {
		v, err := keystile.NewVerifier(keystile.VerifierConfig{Issuer: issuer, JWKSURL: issuer + "/.well-known/jwks.json", Resource: resource})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	photos, calendar := verifierFor(photosAPI), verifierFor(calendarAPI)
	endpoint := oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token"}
	photosConf := &oauth2.Config{ClientID: "photos-spa", RedirectURL: photosRedirect, Scopes: []string{"openid", "photos:read", "calendar:read"},
		Endpoint: oauth2.Endpoint{AuthURL: endpoint.AuthURL, TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	calendarConf := &oauth2.Config{ClientID: "calendar-web", ClientSecret: secret, RedirectURL: calendarRedirect, Scopes: []string{"openid", "email", "calendar:read", "photos:read"},
		Endpoint: oauth2.Endpoint{AuthURL: endpoint.AuthURL, TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}}

	// signIn signs alice in for conf, naming resource at /authorize unless
	// it is "", and returns the code and its verifier.
	signIn := func(conf *oauth2.Config, resource string) (code, verifier string) {
		t.Helper()
		verifier = oauth2.GenerateVerifier()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
		if resource != "" {
			opts = append(opts, oauth2.SetAuthURLParam("resource", resource))
		}
		b := newBrowserFor(t, issuer, nil)
		form := b.authorize(ctx, conf.AuthCodeURL("st", opts...))
		if resource != "" && !strings.Contains(form.page.body, "<code>"+resource+"</code>") {
			t.Errorf("the login page does not name %s:\n%s", resource, form.page.body)
		}
		q := authResponse(t, b.submit(ctx, form, "alice", password), conf.RedirectURL)
		if q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
		return q.Get("code"), verifier
	}

	t.Run("photos-spa gets photos tokens only", func(t *testing.T) {
		code, v := signIn(photosConf, photosAPI)
		tok, err := photosConf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		claims, err := photos.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("the photos API refused a photos token: %v", err)
		}
		if claims["scope"] != "photos:read" || claims["role"] != "admin" || !jsonEqual(claims["groups"], []any{"staff"}) || claims["email"] != nil {
			t.Errorf("photos token claims %v: want scope photos:read, role and groups, no email", claims)
		}
		if !jsonEqual(claims["capabilities"], []any{"moderate", "read", "write"}) {
			t.Errorf("capabilities %v, want the closure of moderate", claims["capabilities"])
		}
		// The audit's case: the calendar API refuses it.
		if _, err := calendar.Verify(ctx, tok.AccessToken); err == nil {
			t.Error("the calendar API accepted a token minted for photos")
		}
		// The ID token still carries what openid releases, not the API claims.
		if id, _ := tok.Extra("id_token").(string); id == "" || decodeJWT(t, id).claims["role"] != nil {
			t.Errorf("ID token missing, or carries role: %q", id)
		}
		// A refresh cannot widen to calendar, which photos-spa may not use.
		rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"photos-spa"}, "resource": {calendarAPI}}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		if code, _ := tokenAt(ctx, t, issuer, rf, "", ""); code != "invalid_target" {
			t.Errorf("refresh widening to calendar: %q, want invalid_target", code)
		}
	})

	t.Run("invalid_target at /authorize", func(t *testing.T) {
		b := newBrowserFor(t, issuer, nil)
		for _, res := range []string{calendarAPI, "https://unknown.example.test/", "relative/path"} {
			u := photosConf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("resource", res))
			q := authResponse(t, b.get(ctx, u), photosRedirect)
			if q.Get("error") != "invalid_target" {
				t.Errorf("resource %q: %v, want error=invalid_target", res, q)
			}
		}
	})

	t.Run("calendar-web gets calendar tokens only", func(t *testing.T) {
		code, v := signIn(calendarConf, "")
		tok, err := calendarConf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		claims, err := calendar.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("the calendar API refused a calendar token: %v", err)
		}
		if claims["scope"] != "calendar:read" || claims["email"] != "alice@example.test" || claims["role"] != nil || claims["capabilities"] != nil {
			t.Errorf("calendar token claims %v: want scope calendar:read and email only", claims)
		}
		if _, err := photos.Verify(ctx, tok.AccessToken); err == nil {
			t.Error("the photos API accepted a token minted for calendar")
		}
		code, v = signIn(calendarConf, "")
		_, err = calendarConf.Exchange(ctx, code, oauth2.VerifierOption(v), oauth2.SetAuthURLParam("resource", photosAPI))
		if got, _ := oauthErrorCode(t, err); got != "invalid_target" {
			t.Errorf("calendar-web asking for photos: %v, want invalid_target", err)
		}
	})

	t.Run("photos-bot: client credentials", func(t *testing.T) {
		if code, _ := tokenAt(ctx, t, issuer, url.Values{"grant_type": {"client_credentials"}, "resource": {calendarAPI}}, "photos-bot", secret); code != "invalid_target" {
			t.Errorf("photos-bot asking for calendar: %q, want invalid_target", code)
		}
		code, tok := tokenAt(ctx, t, issuer, url.Values{"grant_type": {"client_credentials"}}, "photos-bot", secret)
		if code != "" {
			t.Fatalf("photos-bot: %q", code)
		}
		claims, err := photos.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("the photos API refused the bot's token: %v", err)
		}
		if claims["scope"] != "photos:write" || claims["email"] != nil || !jsonEqual(claims["capabilities"], []any{"read", "write"}) {
			t.Errorf("bot token claims %v: want scope photos:write, capabilities [read write], no email", claims)
		}
		// RequireClaim checks a capability without knowing the graph.
		api := httptest.NewServer(photos.Middleware(keystile.RequireClaim("capabilities", "read")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))))
		defer api.Close()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("RequireClaim(capabilities, read) with write held: %d, want 200", resp.StatusCode)
		}
	})
	t.Run("photos-tv: the device grant takes resources as the code grant does", func(t *testing.T) {
		tv := &oauth2.Config{ClientID: "photos-tv", Scopes: []string{"openid", "photos:read", "calendar:read", "offline_access"},
			Endpoint: oauth2.Endpoint{DeviceAuthURL: issuer + "/device_authorization", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
		ds := &deviceSite{issuer: issuer, passwords: map[string]string{"alice": password}}
		b := newBrowserFor(t, issuer, nil)
		// approve approves da on /device, whose confirmation page must name
		// each of resources.
		approve := func(da *oauth2.DeviceAuthResponse, resources ...string) {
			t.Helper()
			confirm := ds.devicePage(t, ctx, b, da.UserCode, "alice", "")
			for _, r := range resources {
				if !strings.Contains(confirm.body, "<code>"+r+"</code>") {
					t.Errorf("the device page does not name %s:\n%s", r, confirm.body)
				}
			}
			if pg := ds.devicePage(t, ctx, b, da.UserCode, "alice", "approve"); !strings.Contains(pg.body, "Device connected") {
				t.Fatalf("approval: status %d\n%s", pg.status, pg.body)
			}
			da.Interval = 1
		}
		resource := func(r string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("resource", r) }

		// Named at /device_authorization: the token is for photos only,
		// with photos' scopes and claims, and so are its refreshes.
		da, err := tv.DeviceAuth(ctx, resource(photosAPI))
		if err != nil {
			t.Fatalf("DeviceAuth for photos: %v", err)
		}
		approve(da, photosAPI)
		tok, err := tv.DeviceAccessToken(ctx, da)
		if err != nil {
			t.Fatalf("DeviceAccessToken: %v", err)
		}
		claims, err := photos.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("the photos API refused the device's photos token: %v", err)
		}
		if claims["scope"] != "photos:read" || claims["role"] != "admin" || claims["email"] != nil || claims.ClientID() != "photos-tv" {
			t.Errorf("device photos token claims %v: want scope photos:read, role, no email", claims)
		}
		if _, err := calendar.Verify(ctx, tok.AccessToken); err == nil {
			t.Error("the calendar API accepted the device's photos token")
		}
		rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"photos-tv"}, "resource": {calendarAPI}}
		if code, _ := tokenAt(ctx, t, issuer, rf, "", ""); code != "invalid_target" {
			t.Errorf("refresh widening the device's grant to calendar: %q, want invalid_target", code)
		}
		rf.Del("resource")
		if code, at := tokenAt(ctx, t, issuer, rf, "", ""); code != "" {
			t.Errorf("refresh: %q", code)
		} else if _, err := photos.Verify(ctx, at); err != nil {
			t.Errorf("the refreshed token is not for photos: %v", err)
		}

		// Refused at /device_authorization: another client's resource, an
		// unknown one, a malformed one.
		for _, res := range []string{"https://unknown.example.test/", "relative/path"} {
			if _, err := tv.DeviceAuth(ctx, resource(res)); !errorIs(err, "invalid_target") {
				t.Errorf("DeviceAuth for %q: %v, want invalid_target", res, err)
			}
		}

		// None named: every resource of the client is granted, and /token
		// picks one. A resource the client may not use is refused at the
		// poll without spending the approval.
		da, err = tv.DeviceAuth(ctx)
		if err != nil {
			t.Fatalf("DeviceAuth: %v", err)
		}
		approve(da, photosAPI, calendarAPI)
		poll := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode}, "client_id": {"photos-tv"}, "resource": {"https://unknown.example.test/"}}
		if code, _ := tokenAt(ctx, t, issuer, poll, "", ""); code != "invalid_target" {
			t.Errorf("poll naming an unknown resource: %q, want invalid_target", code)
		}
		tok, err = tv.DeviceAccessToken(ctx, da, resource(calendarAPI))
		if err != nil {
			t.Fatalf("DeviceAccessToken for calendar, after the refused poll: %v", err)
		}
		claims, err = calendar.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("the calendar API refused the device's calendar token: %v", err)
		}
		if claims["scope"] != "calendar:read" || claims["email"] != "alice@example.test" || claims["role"] != nil {
			t.Errorf("device calendar token claims %v: want scope calendar:read and email only", claims)
		}
	})
	p.stop()
}

// errorIs reports whether err is an OAuth error answer with the code.
func errorIs(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// TestBinaryRefusesBadCapabilities: a cycle in the graph, or a user holding
// a capability the graph does not define, stops the start.
func TestBinaryRefusesBadCapabilities(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ graph, caps, want string }{
		"cycle":           {"{read: [write], write: [read]}", "[read]", "cycle"},
		"unknown implied": {"{admin: [user_management]}", "[admin]", "user_management"},
		"unknown held":    {"{read: []}", "[reed]", "reed"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "users.yaml"), fmt.Sprintf("users:\n  - username: bob\n    password_hash: %q\n    claims: {capabilities: %s}\n",
				"$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo", tc.caps))
			writeFile(t, filepath.Join(dir, "keystile.yaml"), fmt.Sprintf("issuer: http://127.0.0.1:1\nlisten: 127.0.0.1:0\nstore: memory\nusers_file: users.yaml\ncapabilities: {claim: capabilities, graph: %s}\n", tc.graph))
			p := startBinary(t, dir, "serve", "--config", filepath.Join(dir, "keystile.yaml"))
			<-p.done
			if p.err == nil || !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("exit %v, stderr %q: want a failure naming %q", p.err, p.stderr.String(), tc.want)
			}
		})
	}
}

// tokenAt posts form to issuer's /token, authenticated as user unless it
// is "", and returns the error code and the access token.
func tokenAt(ctx context.Context, t *testing.T, issuer string, form url.Values, user, pass string) (code, accessToken string) {
	t.Helper()
	p := (&env{t: t, issuer: issuer}).rawTokenRequest(ctx, form, user, pass)
	var body struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(p.body), &body); err != nil {
		t.Fatalf("/token: %s", describe(p))
	}
	return body.Error, body.AccessToken
}
