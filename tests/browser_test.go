package tests

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/testutil"
)

// The browser user: a person with a name and an email address, so that the
// ID token, the access token and /userinfo all have something to show.
const (
	carolName     = "Carol Example"
	carolEmail    = "carol@example.test"
	carolPassword = "carol's browser password ✓"
)

// withCarol adds carol to a ValidateUserFunc.
func withCarol(next keystile.ValidateUserFunc) keystile.ValidateUserFunc {
	return func(ctx context.Context, username, password string) (keystile.Identity, error) {
		if username == "carol" && password == carolPassword {
			return keystile.Identity{Subject: "user-carol", Claims: map[string]any{
				"name": carolName, "preferred_username": "carol", "email": carolEmail,
			}}, nil
		}
		return next(ctx, username, password)
	}
}

// TestBrowserSPA drives a real headless Chromium through the demo SPA of
// cmd/keystile/demo, served on another origin than Keystile: the PKCE
// sign-in with the real login form, the cross-origin /token call (which the
// page can read only if CORS allows its origin), /userinfo, a refresh and
// RP-initiated logout; then the same SPA on an origin no client registered,
// whose /token call the browser refuses; then the pages on a phone in dark
// mode. Screenshots go to $KEYSTILE_ARTIFACTS (or the test's temporary
// directory): login-desktop.png, spa-signed-in.png, spa-cors-refused.png,
// error-desktop.png, login-phone-dark.png, login-phone-dark-retry.png and
// error-phone-dark.png.
func TestBrowserSPA(t *testing.T) {
	chromium := testutil.Chromium(t)
	artifacts := artifactDir(t)

	registered := newSPASite(t)
	unregistered := newSPASite(t)
	const clientID = "browser-spa"
	e := newEnv(t, envOptions{alg: "RS256", loginUnlimited: true, configure: func(c *keystile.Config) {
		c.Clients = append(c.Clients, keystile.Client{
			ID:     clientID,
			Name:   "Browser Demo",
			Public: true,
			// Both sites may receive codes; only one may call /token.
			RedirectURIs:           []string{registered.appURL, unregistered.appURL},
			AllowedOrigins:         []string{registered.origin},
			PostLogoutRedirectURIs: []string{registered.appURL},
			Scopes:                 []string{"openid", "profile", "email"},
		})
		c.ValidateUser = withCarol(c.ValidateUser)
		c.Branding.ProductName = "Keystile test"
	}})
	registered.start(t, e.issuer, clientID)
	unregistered.start(t, e.issuer, clientID)

	t.Run("registered origin signs in, asks userinfo, refreshes and signs out", func(t *testing.T) {
		ctx := chromiumTab(t, chromium)
		console := watchConsole(t, ctx)
		step(t, ctx, "opening the SPA", chromedp.Navigate(registered.appURL), chromedp.WaitVisible(chromedp.ID("sign-in")))
		step(t, ctx, "going to the login page", chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("username")))
		if loc := run(t, ctx, "reading the URL", chromedp.Location()); !strings.HasPrefix(loc, e.issuer+"/authorize?") {
			t.Fatalf("the sign-in button went to %s, want Keystile's /authorize", loc)
		}
		screenshot(t, ctx, artifacts, "login-desktop.png")

		step(t, ctx, "signing in",
			chromedp.SendKeys(chromedp.ID("username"), "carol"),
			chromedp.SendKeys(chromedp.ID("password"), carolPassword),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`body[data-state="signed-in"] #session, body[data-state="error"] #problem`)),
		)
		if state := run(t, ctx, "reading the page state", chromedp.Evaluate[string](`document.body.dataset.state`)); state != "signed-in" {
			problem := run(t, ctx, "reading the problem", chromedp.Text(chromedp.ID("problem")))
			t.Fatalf("the SPA is in state %q, not signed in: %s\nconsole:\n%s", state, problem, console)
		}
		if loc := run(t, ctx, "reading the URL", chromedp.Location()); loc != registered.appURL {
			t.Errorf("after sign-in the address is %s, want %s with the code removed", loc, registered.appURL)
		}
		who := run(t, ctx, "reading the user", chromedp.Text(chromedp.ID("who")))
		if who != carolName {
			t.Errorf("the page says signed in as %q, want %q", who, carolName)
		}
		idClaims := run(t, ctx, "reading the ID token", chromedp.TextContent(chromedp.ID("id-token-claims")))
		for _, want := range []string{`"sub": "user-carol"`, `"aud": "` + clientID + `"`, `"nonce": "`, `"iss": "` + e.issuer + `"`} {
			if !strings.Contains(idClaims, want) {
				t.Errorf("the ID token claims shown lack %s:\n%s", want, idClaims)
			}
		}
		atHeader := run(t, ctx, "reading the access token header", chromedp.TextContent(chromedp.ID("access-token-header")))
		atClaims := run(t, ctx, "reading the access token", chromedp.TextContent(chromedp.ID("access-token-claims")))
		if !strings.Contains(atHeader, `"typ": "at+jwt"`) || !strings.Contains(atClaims, `"client_id": "`+clientID+`"`) || !strings.Contains(atClaims, `"sub": "user-carol"`) {
			t.Errorf("the access token shown is not carol's at+jwt for %s:\n%s\n%s", clientID, atHeader, atClaims)
		}
		screenshot(t, ctx, artifacts, "spa-signed-in.png")

		step(t, ctx, "asking /userinfo", chromedp.Click(chromedp.ID("call-userinfo")), chromedp.WaitVisible(chromedp.ID("userinfo-card")))
		userinfo := run(t, ctx, "reading /userinfo", chromedp.TextContent(chromedp.ID("userinfo")))
		for _, want := range []string{`"sub": "user-carol"`, `"email": "` + carolEmail + `"`, `"name": "` + carolName + `"`} {
			if !strings.Contains(userinfo, want) {
				t.Errorf("/userinfo as shown lacks %s:\n%s", want, userinfo)
			}
		}

		before := run(t, ctx, "reading the access token", chromedp.TextContent(chromedp.ID("raw-token")))
		step(t, ctx, "refreshing", chromedp.Click(chromedp.ID("refresh")),
			chromedp.WaitVisible(chromedp.CSS(`#step-refresh.done, #step-refresh.failed`)))
		after := run(t, ctx, "reading the new access token", chromedp.TextContent(chromedp.ID("raw-token")))
		status := run(t, ctx, "reading the status", chromedp.Text(chromedp.ID("session-status")))
		if after == before || !strings.Contains(status, "Refreshed") {
			t.Errorf("the refresh did not bring a new access token (status %q)", status)
		}

		step(t, ctx, "signing out at Keystile",
			chromedp.Click(chromedp.ID("sign-out")),
			chromedp.WaitVisible(chromedp.CSS(`form[action="logout"] button[type="submit"]`)),
		)
		if loc := run(t, ctx, "reading the URL", chromedp.Location()); !strings.HasPrefix(loc, e.issuer+"/logout?") {
			t.Fatalf("the sign-out button went to %s, want Keystile's end_session_endpoint", loc)
		}
		step(t, ctx, "confirming the sign-out",
			chromedp.Click(chromedp.CSS(`form[action="logout"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`body[data-state="signed-out"] #status, body[data-state="error"] #problem`)),
		)
		if state := run(t, ctx, "reading the page state", chromedp.Evaluate[string](`document.body.dataset.state`)); state != "signed-out" {
			t.Fatalf("after sign-out the SPA is in state %q, want signed-out", state)
		}
		if strings.Contains(console.String(), "CORS") {
			t.Errorf("the browser reported a CORS problem on the registered origin:\n%s", console)
		}
	})

	t.Run("unregistered origin is refused by CORS", func(t *testing.T) {
		ctx := chromiumTab(t, chromium)
		console := watchConsole(t, ctx)
		step(t, ctx, "signing in from the unregistered origin",
			chromedp.Navigate(unregistered.appURL),
			chromedp.WaitVisible(chromedp.ID("sign-in")),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), "carol"),
			chromedp.SendKeys(chromedp.ID("password"), carolPassword),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`body[data-state="signed-in"] #session, body[data-state="error"] #problem`)),
		)
		if state := run(t, ctx, "reading the page state", chromedp.Evaluate[string](`document.body.dataset.state`)); state != "error" {
			t.Fatalf("the SPA on an unregistered origin is in state %q, want error", state)
		}
		problem := run(t, ctx, "reading the problem", chromedp.Text(chromedp.ID("problem")))
		if !strings.Contains(problem, "did not let this page read the answer") || !strings.Contains(problem, unregistered.origin) {
			t.Errorf("the page does not explain the CORS refusal:\n%s", problem)
		}
		if claims := run(t, ctx, "reading the ID token", chromedp.TextContent(chromedp.ID("id-token-claims"))); claims != "" {
			t.Errorf("claims are shown although /token was refused:\n%s", claims)
		}
		if hidden := run(t, ctx, "reading the session card", chromedp.Evaluate[bool](`document.getElementById("session").hidden`)); !hidden {
			t.Error("the signed-in card is shown although /token was refused")
		}
		if log := console.String(); !strings.Contains(log, "CORS policy") || !strings.Contains(log, e.issuer+"/token") {
			t.Errorf("the browser did not report a CORS refusal of %s/token; console:\n%s", e.issuer, log)
		}
		screenshot(t, ctx, artifacts, "spa-cors-refused.png")

		// An error page a user can land on: an unknown client.
		step(t, ctx, "opening an error page", chromedp.Navigate(e.issuer+"/authorize?client_id=nobody&response_type=code"), chromedp.WaitVisible(chromedp.ID("page-title")))
		screenshot(t, ctx, artifacts, "error-desktop.png")
	})

	t.Run("pages on a phone in dark mode", func(t *testing.T) {
		ctx := chromiumTab(t, chromium)
		darkMode := chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
			})
			return err
		})
		step(t, ctx, "emulating a phone in dark mode",
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch),
			darkMode,
		)
		q := url.Values{
			"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {registered.appURL},
			"scope": {"openid profile email"}, "state": {"phone"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCQaoWZdH3IuDIh8LRtkH1Gw"}, "code_challenge_method": {"S256"},
		}
		step(t, ctx, "opening the login page", chromedp.Navigate(e.issuer+"/authorize?"+q.Encode()), chromedp.WaitVisible(chromedp.ID("username")))
		checkPhonePage(t, ctx, "login page")
		screenshot(t, ctx, artifacts, "login-phone-dark.png")

		step(t, ctx, "signing in with a wrong password",
			chromedp.SendKeys(chromedp.ID("username"), "carol"),
			chromedp.SendKeys(chromedp.ID("password"), "not the password"),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("login-error")),
		)
		checkPhonePage(t, ctx, "login page with an error")
		screenshot(t, ctx, artifacts, "login-phone-dark-retry.png")

		step(t, ctx, "opening an error page", chromedp.Navigate(e.issuer+"/authorize?client_id="+clientID+"&redirect_uri=https://evil.example/cb"), chromedp.WaitVisible(chromedp.ID("page-title")))
		checkPhonePage(t, ctx, "error page")
		screenshot(t, ctx, artifacts, "error-phone-dark.png")

		// The narrowest phones in use are 360 CSS pixels wide.
		step(t, ctx, "narrowing to 360px", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
		checkPhonePage(t, ctx, "error page at 360px")
		step(t, ctx, "opening the login page", chromedp.Navigate(e.issuer+"/authorize?"+q.Encode()), chromedp.WaitVisible(chromedp.ID("username")))
		checkPhonePage(t, ctx, "login page at 360px")
	})
}

// checkPhonePage asserts what a person on a phone in dark mode would see:
// the dark palette, no sideways scrolling, and a button big enough to tap.
func checkPhonePage(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	type layout struct {
		Background  string  `json:"background"`
		ScrollWidth float64 `json:"scrollWidth"`
		Width       float64 `json:"width"`
		Button      float64 `json:"button"`
	}
	got := run(t, ctx, "measuring the "+what, chromedp.Evaluate[layout](`(() => {
		const b = document.querySelector("button");
		return {
			background: getComputedStyle(document.body).backgroundColor,
			scrollWidth: document.documentElement.scrollWidth,
			width: window.innerWidth,
			button: b ? b.getBoundingClientRect().height : 44,
		};
	})()`))
	if got.Background != "rgb(14, 16, 20)" {
		t.Errorf("%s: body background %s, want the dark palette's rgb(14, 16, 20)", what, got.Background)
	}
	if got.ScrollWidth > got.Width {
		t.Errorf("%s: the page is %v px wide in a %v px viewport: it scrolls sideways", what, got.ScrollWidth, got.Width)
	}
	if got.Button < 44 {
		t.Errorf("%s: the button is %v px high, less than a 44 px touch target", what, got.Button)
	}
}

// TestBrowserQuickstartDemo runs the real binary's quickstart and its demo
// page at /demo/, as a person trying Keystile out would: sign in with the
// banner's password, see the claims, ask /userinfo, refresh, sign out.
func TestBrowserQuickstartDemo(t *testing.T) {
	chromium := testutil.Chromium(t)
	dir := t.TempDir()
	p := startBinary(t, dir, "quickstart", "--listen", "127.0.0.1:0", "--dir", dir)
	issuer := p.waitOutput(listeningRe)[1]
	banner := p.stdout.String()
	user := regexp.MustCompile(`username:\s+(\S+)`).FindStringSubmatch(banner)
	password := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(banner)
	if user == nil || password == nil {
		t.Fatalf("the banner shows no username and password:\n%s", banner)
	}

	ctx := chromiumTab(t, chromium)
	console := watchConsole(t, ctx)
	step(t, ctx, "signing in on the demo page",
		chromedp.Navigate(issuer+"/demo/"),
		chromedp.WaitVisible(chromedp.ID("sign-in")),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user[1]),
		chromedp.SendKeys(chromedp.ID("password"), password[1]),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="signed-in"] #session, body[data-state="error"] #problem`)),
	)
	if state := run(t, ctx, "reading the page state", chromedp.Evaluate[string](`document.body.dataset.state`)); state != "signed-in" {
		problem := run(t, ctx, "reading the problem", chromedp.Text(chromedp.ID("problem")))
		t.Fatalf("the demo page is in state %q: %s\nconsole:\n%s", state, problem, console)
	}
	if who := run(t, ctx, "reading the user", chromedp.Text(chromedp.ID("who"))); who != "Demo User" {
		t.Errorf("the demo page says signed in as %q, want the demo user's name", who)
	}
	if src := run(t, ctx, "reading the discovery source", chromedp.Text(chromedp.ID("endpoints"))); !strings.Contains(src, "/.well-known/openid-configuration") {
		t.Errorf("the demo page did not take its endpoints from discovery:\n%s", src)
	}
	step(t, ctx, "asking /userinfo", chromedp.Click(chromedp.ID("call-userinfo")), chromedp.WaitVisible(chromedp.ID("userinfo-card")))
	if info := run(t, ctx, "reading /userinfo", chromedp.TextContent(chromedp.ID("userinfo"))); !strings.Contains(info, `"sub": "`+user[1]+`"`) {
		t.Errorf("/userinfo as shown is not the demo user's:\n%s", info)
	}
	step(t, ctx, "refreshing", chromedp.Click(chromedp.ID("refresh")), chromedp.WaitVisible(chromedp.CSS(`#step-refresh.done, #step-refresh.failed`)))
	if cls := run(t, ctx, "reading the refresh step", chromedp.Evaluate[string](`document.getElementById("step-refresh").className`)); cls != "done" {
		t.Errorf("the refresh failed: %s", run(t, ctx, "reading the problem", chromedp.Text(chromedp.ID("problem"))))
	}
	step(t, ctx, "signing out",
		chromedp.Click(chromedp.ID("sign-out")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="logout"] button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`form[action="logout"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="signed-out"] #status, body[data-state="error"] #problem`)),
	)
	if state := run(t, ctx, "reading the page state", chromedp.Evaluate[string](`document.body.dataset.state`)); state != "signed-out" {
		t.Errorf("after sign-out the demo page is in state %q, want signed-out", state)
	}
	p.stop()
}
