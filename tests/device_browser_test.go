package tests

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keystile/keystile/internal/testutil"
)

// TestBrowserDevicePage: a person in headless Chromium opens the address a
// command-line tool prints, types the code and their password, checks the
// client and the code, and approves; the tool then gets its token from
// `keystile serve`. The page runs without JavaScript under its CSP.
func TestBrowserDevicePage(t *testing.T) {
	t.Parallel()
	chromium := testutil.Chromium(t)
	s := startDeviceSite(t, "10m")
	ctx := testContext(t)
	cfg := s.config()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}

	tab := chromiumTab(t, chromium)
	console := watchConsole(t, tab)
	step(t, tab, "opening the device page", chromedp.Navigate(da.VerificationURI), chromedp.WaitVisible(chromedp.ID("user_code")))
	step(t, tab, "entering the code and signing in",
		chromedp.SendKeys(chromedp.ID("user_code"), strings.ToLower(da.UserCode)),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), s.passwords["alice"]),
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.ID("approve")),
	)
	if shown := run(t, tab, "reading the code", chromedp.Text(chromedp.ID("device-code"))); shown != da.UserCode {
		t.Fatalf("the confirmation shows %q, want %q", shown, da.UserCode)
	}
	if title := run(t, tab, "reading the title", chromedp.Text(chromedp.ID("page-title"))); !strings.Contains(title, "The CLI") {
		t.Fatalf("the confirmation's title %q does not name the client", title)
	}
	step(t, tab, "approving", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("device-done")))

	da.Interval = 1
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if tok.AccessToken == "" {
		t.Fatal("no access token")
	}
	if c := console.String(); strings.Contains(c, "Content Security Policy") {
		t.Errorf("the page broke its CSP:\n%s", c)
	}
}
