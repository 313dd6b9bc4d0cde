package tests

import (
	"context"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
)

// browserTimeout bounds one step of a browser test (a navigation, a wait
// for the page to settle). A step that takes this long is stuck.
const browserTimeout = 45 * time.Second

// chromiumTab starts a headless Chromium with a fresh profile and returns the
// context of its first tab. The browser ends with the test.
func chromiumTab(t *testing.T, chromium string) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first Do starts the browser and binds it to ctx, which has no
	// deadline; each step then runs under its own timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// step runs actions under browserTimeout and fails the test on an error.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value, under browserTimeout.
func run[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// consoleLog collects what the browser logs for a tab: network errors and
// CORS refusals arrive as Log entries.
type consoleLog struct {
	mu      sync.Mutex
	entries []string
}

func watchConsole(t *testing.T, ctx context.Context) *consoleLog {
	t.Helper()
	c := &consoleLog{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry != nil {
			c.mu.Lock()
			c.entries = append(c.entries, string(e.Entry.Level)+": "+e.Entry.Text)
			c.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("listening to the console: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enabling the Log domain: %v", err)
	}
	return c
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.entries, "\n")
}

// artifactDir is where screenshots go: $KEYSTILE_ARTIFACTS when set (CI keeps
// it), else the test's temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KEYSTILE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact directory %s: %v", dir, err)
	}
	return dir
}

// screenshot saves the whole page as a PNG.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("saving %s: %v", path, err)
	}
	t.Logf("screenshot: %s", path)
}

// spaSite serves the demo SPA (cmd/keystile/demo) from its own origin, as a
// real deployment would: the same files, with data-issuer pointing at
// Keystile and a CSP that lets the page fetch from Keystile and nowhere else.
type spaSite struct {
	server *httptest.Server
	origin string // http://localhost:PORT, another origin than Keystile's
	appURL string // the page, and its redirect URI
}

// newSPASite reserves the site's address; start serves it once the issuer
// is known (the issuer's client registration needs the site's origin first).
func newSPASite(t *testing.T) *spaSite {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	_, port, err := net.SplitHostPort(hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// localhost, not 127.0.0.1: another host as well as another port, so
	// the SPA and Keystile are different origins and different sites.
	origin := "http://localhost:" + port
	return &spaSite{server: hs, origin: origin, appURL: origin + "/app/"}
}

func (s *spaSite) start(t *testing.T, issuer, clientID string) {
	t.Helper()
	dir := filepath.Join("..", "cmd", "keystile", "demo")
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatalf("reading the demo SPA: %v", err)
	}
	page := strings.NewReplacer(
		`data-issuer=""`, `data-issuer="`+html.EscapeString(issuer)+`"`,
		`data-client-id="demo"`, `data-client-id="`+html.EscapeString(clientID)+`"`,
	).Replace(string(index))
	if page == string(index) {
		t.Fatal("index.html has no data-issuer and data-client-id to set")
	}
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' " + issuer +
		"; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
	files := http.StripPrefix("/app/", http.FileServer(http.Dir(dir)))
	s.server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == "/app/" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
			return
		}
		files.ServeHTTP(w, r)
	})
	s.server.Start()
	t.Cleanup(s.server.Close)
}
