package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
	"github.com/keystile/keystile/keystiletest"
)

// startSPA serves the app next to a keystiletest server that registers it
// as a public client with its origin allowed.
func startSPA(t *testing.T) (*httptest.Server, *keystiletest.IdP) {
	t.Helper()
	app := httptest.NewUnstartedServer(nil)
	origin := "http://" + app.Listener.Addr().String()
	idp := keystiletest.New(t,
		keystiletest.WithUser(keystiletest.User{Username: "alice", Claims: map[string]any{"role": "admin"}}),
		keystiletest.WithClient(keystile.Client{ID: "spa", Public: true, RedirectURIs: []string{origin + "/"}, AllowedOrigins: []string{origin}, Scopes: []string{"openid"}}))
	h, err := newSPA(idp.Issuer(), "spa", origin+"/")
	if err != nil {
		t.Fatal(err)
	}
	app.Config.Handler = h
	app.Start()
	t.Cleanup(app.Close)
	return app, idp
}

func TestSPAServesItsFiles(t *testing.T) {
	app, idp := startSPA(t)
	for path, want := range map[string]string{"/": `src="app.js"`, "/app.js": "code_challenge_method", "/config.json": idp.Issuer()} {
		resp, err := http.Get(app.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), idp.Issuer()) {
			t.Errorf("GET %s: %d, CSP %q\n%s", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"), body)
		}
	}
}

// TestSPAInChromium: a real browser runs the app: PKCE with crypto.subtle,
// Keystile's login form, the code redeemed by fetch across origins.
func TestSPAInChromium(t *testing.T) {
	chromium := testutil.Chromium(t)
	app, _ := startSPA(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(app.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("sign-in")),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), keystiletest.DefaultPassword),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="signed-in"] #session, body[data-state="error"] #problem`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("who")))
	if err != nil || who != "alice" {
		problem, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("problem")))
		t.Fatalf("signed in as %q (%v); problem: %q", who, err, problem)
	}
}
