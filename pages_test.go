package keystile

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/keystile/keystile/internal/testutil"
)

// pageTestServer serves the login and error pages the way Handler does:
// page routes behind pageHeaders, static files at /static/*, all mounted
// below the issuer's path prefix (/auth), to prove relative links resolve.
type pageTestServer struct {
	*httptest.Server
	// mu orders the test's writes before the handler's reads: a request that
	// comes from Chromium, another process, gives the race detector no
	// happens-before edge of its own.
	mu     sync.Mutex
	login  loginView
	errv   errorView
	status int
}

// set changes what the pages show, under the lock.
func (ts *pageTestServer) set(f func(ts *pageTestServer)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f(ts)
}

func newPageTestServer(t *testing.T) *pageTestServer {
	t.Helper()
	return newPageTestServerAt(t, "/auth")
}

// newPageTestServerAt mounts the routes at prefix, the issuer's path ("" for
// an issuer without one).
func newPageTestServerAt(t *testing.T, prefix string) *pageTestServer {
	t.Helper()
	s := &Server{cfg: Config{Branding: Branding{ProductName: "Acme"}}, log: slog.New(slog.DiscardHandler), pages: defaultPages}
	ts := &pageTestServer{status: http.StatusOK}
	inner := chi.NewRouter()
	pages := inner.With(pageHeaders)
	pages.Get("/authorize", func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		status, v := ts.status, ts.login
		ts.mu.Unlock()
		s.renderLogin(w, status, v)
	})
	pages.Get("/error", func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		status, v := ts.status, ts.errv
		ts.mu.Unlock()
		s.renderError(w, status, v)
	})
	inner.Handle("/static/*", staticHandler())
	var root http.Handler = inner
	if prefix != "" {
		outer := chi.NewRouter()
		outer.Mount(prefix, inner)
		root = outer
	}
	ts.Server = httptest.NewServer(root)
	t.Cleanup(ts.Close)
	return ts
}

func (ts *pageTestServer) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	return ts.do(t, http.MethodGet, path, nil)
}

func (ts *pageTestServer) do(t *testing.T, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatalf("building request for %s: %v", path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return resp, string(body)
}

var wantPageHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Cache-Control":           "no-store",
	"X-Content-Type-Options":  "nosniff",
	"Content-Type":            "text/html; charset=utf-8",
}

func assertPageHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	for name, want := range wantPageHeaders {
		if got := resp.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want exactly %q", name, got, want)
		}
	}
	if strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action") {
		t.Error("CSP has form-action, which blocks the redirect to the client after the login POST in Chromium")
	}
}

// attrRE reads the attributes of tags html/template produced from our own
// templates: attributes always double-quoted or bare.
var attrRE = regexp.MustCompile(`([a-zA-Z-]+)(?:="([^"]*)")?`)

// tags returns the attributes of every <name …> tag in body, unescaped.
func tags(body, name string) []map[string]string {
	re := regexp.MustCompile(`<` + name + `\b([^>]*)>`)
	var out []map[string]string
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(m[1], -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		out = append(out, attrs)
	}
	return out
}

func findTag(body, name, attr, value string) map[string]string {
	for _, t := range tags(body, name) {
		if v, ok := t[attr]; ok && v == value {
			return t
		}
	}
	return nil
}

func TestLoginPageHeadersAndForm(t *testing.T) {
	ts := newPageTestServer(t)
	ts.set(func(ts *pageTestServer) {
		ts.login = loginView{ClientName: "Photo Album", RequestID: "req-123", CSRFToken: "csrf-456", Scopes: []string{"openid", "profile", "reports:read"}}
	})
	resp, body := ts.get(t, "/auth/authorize")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	assertPageHeaders(t, resp)

	if !strings.Contains(body, "Sign in to continue to <span class=\"client\">Photo Album</span>") {
		t.Error("the page does not say which application the user signs in to")
	}
	if !strings.Contains(body, "Acme") {
		t.Error("the product name from Branding.ProductName is not shown")
	}
	for _, words := range []string{"Confirm who you are", "See your basic profile", "<code>reports:read</code>"} {
		if !strings.Contains(body, words) {
			t.Errorf("requested scopes: %q not shown", words)
		}
	}

	forms := tags(body, "form")
	if len(forms) != 1 || forms[0]["method"] != "post" || forms[0]["action"] != "login" {
		t.Fatalf("form = %v, want one form posting to the relative path login", forms)
	}
	// The page is served at <issuer>/authorize, so "login" must land on
	// <issuer>/login even when the issuer has a path.
	action, _ := url.Parse(ts.URL + "/auth/authorize")
	if got := action.ResolveReference(&url.URL{Path: "login"}).Path; got != "/auth/login" {
		t.Errorf("the form posts to %s, want /auth/login", got)
	}
	for name, want := range map[string]string{"request_id": "req-123", "csrf_token": "csrf-456"} {
		in := findTag(body, "input", "name", name)
		if in == nil || in["type"] != "hidden" || in["value"] != want {
			t.Errorf("hidden field %s = %v, want type=hidden value=%q", name, in, want)
		}
	}
	for _, tc := range []struct{ name, typ, autocomplete, label string }{
		{"username", "text", "username", "Username"},
		{"password", "password", "current-password", "Password"},
	} {
		in := findTag(body, "input", "name", tc.name)
		if in == nil {
			t.Errorf("no %s input", tc.name)
			continue
		}
		if in["type"] != tc.typ || in["autocomplete"] != tc.autocomplete {
			t.Errorf("%s input: type=%q autocomplete=%q, want %q %q", tc.name, in["type"], in["autocomplete"], tc.typ, tc.autocomplete)
		}
		if _, ok := in["required"]; !ok {
			t.Errorf("%s input is not required", tc.name)
		}
		if _, ok := in["aria-invalid"]; ok {
			t.Errorf("%s input is marked invalid before any attempt", tc.name)
		}
		if findTag(body, "label", "for", in["id"]) == nil || !strings.Contains(body, ">"+tc.label+"</label>") {
			t.Errorf("%s input (id %q) has no <label>", tc.name, in["id"])
		}
	}
	if _, ok := findTag(body, "input", "name", "username")["autofocus"]; !ok {
		t.Error("the username field does not have the focus on a first visit")
	}
	if strings.Contains(body, `role="alert"`) {
		t.Error("an alert is shown before any attempt")
	}
	if len(tags(body, "button")) != 1 || tags(body, "button")[0]["type"] != "submit" {
		t.Error("no submit button")
	}
	assertOnlyOwnResources(t, ts, "/auth/authorize", body)
}

// assertOnlyOwnResources checks that every link and image of the page is a
// relative path to our static files, and that each one loads.
func assertOnlyOwnResources(t *testing.T, ts *pageTestServer, pagePath, body string) {
	t.Helper()
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") || strings.Contains(body, "<style") {
		t.Error("the page has a script or inline style, which its CSP forbids")
	}
	base, _ := url.Parse(ts.URL + pagePath)
	var refs []string
	for _, l := range tags(body, "link") {
		refs = append(refs, l["href"])
	}
	for _, i := range tags(body, "img") {
		refs = append(refs, i["src"])
	}
	if len(refs) == 0 {
		t.Fatal("the page references no stylesheet or logo")
	}
	for _, ref := range refs {
		if !strings.HasPrefix(ref, "static/") {
			t.Errorf("resource %q is not a relative static/ path (third-party, or breaks under an issuer path)", ref)
			continue
		}
		u := base.ResolveReference(&url.URL{Path: ref})
		resp, _ := ts.get(t, u.Path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("resource %s (from %q) answered %d", u.Path, ref, resp.StatusCode)
		}
	}
}

func TestLoginPageRetry(t *testing.T) {
	ts := newPageTestServer(t)
	ts.set(func(ts *pageTestServer) { ts.status = http.StatusOK })
	ts.set(func(ts *pageTestServer) {
		ts.login = loginView{ClientName: "Photo Album", RequestID: "r", CSRFToken: "c", Username: "alice", Error: "That username and password do not match."}
	})
	resp, body := ts.get(t, "/auth/authorize")
	assertPageHeaders(t, resp)
	if !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "That username and password do not match.") {
		t.Fatal("the error is not shown in a role=alert element")
	}
	alert := findTag(body, "div", "role", "alert")
	for _, name := range []string{"username", "password"} {
		in := findTag(body, "input", "name", name)
		if in["aria-invalid"] != "true" || in["aria-describedby"] != alert["id"] || alert["id"] == "" {
			t.Errorf("%s input: aria-invalid=%q aria-describedby=%q, want true and the alert's id %q", name, in["aria-invalid"], in["aria-describedby"], alert["id"])
		}
	}
	if got := findTag(body, "input", "name", "username")["value"]; got != "alice" {
		t.Errorf("username on retry = %q, want alice", got)
	}
	if v, ok := findTag(body, "input", "name", "password")["value"]; ok {
		t.Errorf("the password is echoed back (%q)", v)
	}
	if _, ok := findTag(body, "input", "name", "password")["autofocus"]; !ok {
		t.Error("on retry the focus is not on the password, the field left to type")
	}
}

func TestLoginPageEscapesRequestData(t *testing.T) {
	hostile := []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		`' autofocus onfocus='alert(1)`,
		`javascript:alert(1)`,
	}
	for _, payload := range hostile {
		t.Run(payload, func(t *testing.T) {
			ts := newPageTestServer(t)
			ts.set(func(ts *pageTestServer) { ts.status = http.StatusBadRequest })
			ts.set(func(ts *pageTestServer) {
				ts.login = loginView{ClientName: payload, RequestID: payload, CSRFToken: payload, Username: payload, Error: payload, Scopes: []string{payload}}
			})
			resp, body := ts.get(t, "/auth/authorize")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want the 400 the handler asked for", resp.StatusCode)
			}
			if strings.Contains(body, "<script") || strings.Contains(body, "<img src=x") {
				t.Errorf("payload %q reached the page as markup", payload)
			}
			for _, tag := range allTags(body) {
				for attr := range tag {
					if strings.HasPrefix(strings.ToLower(attr), "on") {
						t.Errorf("payload %q created an event handler attribute %q", payload, attr)
					}
				}
			}
			// Each value round-trips: a user sees exactly what was sent.
			for _, name := range []string{"username", "request_id", "csrf_token"} {
				if got := findTag(body, "input", "name", name)["value"]; got != payload {
					t.Errorf("%s value = %q, want %q", name, got, payload)
				}
			}
			if !strings.Contains(body, template.HTMLEscapeString(payload)) {
				t.Errorf("the escaped payload is not shown as text")
			}
		})
	}
}

// allTags returns the attributes of every tag in body.
func allTags(body string) []map[string]string {
	return tags(body, "[a-zA-Z][a-zA-Z0-9]*")
}

func TestErrorPage(t *testing.T) {
	const cause = "pq: relation \"codes\" does not exist"
	cases := []struct {
		name      string
		view      errorView
		status    int
		wantTitle string
		wantText  string
	}{
		{"malformed link", errorView{Code: "invalid_request", Message: "The sign-in link names its client_id more than once, so it cannot be trusted."}, 400, "This sign-in link is not valid", "more than once"},
		{"unknown client", errorView{Code: "invalid_request", Message: "The application that sent you here is not registered with this sign-in service.", Title: titleCannotGoOn}, 400, "We can't continue this sign-in", "not registered"},
		{"unregistered redirect", errorView{Code: "invalid_request", Message: "The sign-in link asks to return to an address that is not registered for this application.", Title: titleCannotGoOn}, 400, "We can't continue this sign-in", "address that is not registered"},
		{"client not allowed", errorView{Code: "unauthorized_client", Message: "This application is not allowed to sign users in."}, 400, "We can't continue this sign-in", "not allowed"},
		{"expired", errorView{Code: "invalid_request", Message: "This sign-in page has expired or was already used. Go back to the application and start again.", Title: titleExpired}, 400, "This sign-in page has expired", "already used"},
		{"server error", errorView{Code: "server_error", Message: "the server could not complete the request"}, 500, "Something went wrong", "could not complete"},
		{"explicit title", errorView{Code: "access_denied", Message: "Refused.", Title: "Sign-in refused"}, 403, "Sign-in refused", "Refused."},
		{"hostile message", errorView{Code: `<b>x</b>`, Message: `<script>alert(1)</script>`}, 400, "We can't continue this sign-in", "&lt;script&gt;alert(1)&lt;/script&gt;"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newPageTestServer(t)
			ts.set(func(ts *pageTestServer) { ts.status, ts.errv = tc.status, tc.view })
			resp, body := ts.get(t, "/auth/error")
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			assertPageHeaders(t, resp)
			title := template.HTMLEscapeString(tc.wantTitle)
			if !strings.Contains(body, `<h1 id="page-title">`+title+`</h1>`) {
				t.Errorf("heading is not %q", tc.wantTitle)
			}
			if !strings.Contains(body, "<title>"+title+" · Acme</title>") {
				t.Errorf("document title is not %q · Acme", tc.wantTitle)
			}
			if !strings.Contains(body, tc.wantText) {
				t.Errorf("message %q not shown", tc.wantText)
			}
			if !strings.Contains(body, "<code>"+template.HTMLEscapeString(tc.view.Code)+"</code>") {
				t.Errorf("error code %q not shown", tc.view.Code)
			}
			for _, leak := range []string{cause, "<script>", "<b>", "goroutine", ".go:"} {
				if strings.Contains(body, leak) {
					t.Errorf("the page shows %q", leak)
				}
			}
			assertOnlyOwnResources(t, ts, "/auth/error", body)
		})
	}
}

// A template that fails while executing must not leave half a page behind
// a success status.
func TestPageTemplateErrorIsPlain500(t *testing.T) {
	broken := template.Must(template.New("broken").Parse(`{{define "layout"}}<p>started…{{.NoSuchField}}</p>{{end}}`))
	s := &Server{cfg: Config{Branding: Branding{ProductName: "Acme"}}, log: slog.New(slog.DiscardHandler), pages: defaultPages}
	srv := httptest.NewServer(pageHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderPage(w, http.StatusOK, broken, struct{}{})
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	if strings.Contains(string(body), "started") || strings.Contains(resp.Header.Get("Content-Type"), "html") {
		t.Errorf("half a page was sent: %q (%s)", body, resp.Header.Get("Content-Type"))
	}
}

func TestStaticFiles(t *testing.T) {
	cases := []struct {
		name        string
		method      string
		path        string
		header      http.Header
		wantStatus  int
		wantType    string
		wantBodyHas string
	}{
		{"stylesheet", "GET", "/auth/static/keystile.css", nil, 200, "text/css; charset=utf-8", "--accent"},
		{"logo", "GET", "/auth/static/logo.svg", nil, 200, "image/svg+xml", "<svg"},
		{"head", "HEAD", "/auth/static/keystile.css", nil, 200, "text/css; charset=utf-8", ""},
		{"directory listing", "GET", "/auth/static/", nil, 404, "", ""},
		{"directory without slash", "GET", "/auth/static", nil, 404, "", ""},
		{"parent directory", "GET", "/auth/static/../keystile.go", nil, 404, "", ""},
		{"encoded parent directory", "GET", "/auth/static/%2e%2e/pages.go", nil, 404, "", ""},
		{"templates are not static", "GET", "/auth/static/../templates/login.html", nil, 404, "", ""},
		{"missing file", "GET", "/auth/static/nope.css", nil, 404, "", ""},
		{"wrong case", "GET", "/auth/static/KEYSTILE.CSS", nil, 404, "", ""},
		{"post", "POST", "/auth/static/keystile.css", nil, 405, "", ""},
		{"revalidation", "GET", "/auth/static/keystile.css", http.Header{"If-None-Match": {staticAssets["keystile.css"].etag}}, 304, "", ""},
	}
	for _, prefix := range []string{"/auth", ""} {
		ts := newPageTestServerAt(t, prefix)
		for _, tc := range cases {
			t.Run("issuer path "+prefix+"/"+tc.name, func(t *testing.T) {
				path := prefix + strings.TrimPrefix(tc.path, "/auth")
				resp, body := ts.do(t, tc.method, path, tc.header)
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("status %d, want %d (body %.80q)", resp.StatusCode, tc.wantStatus, body)
				}
				if tc.wantStatus != 200 {
					if strings.Contains(body, "package keystile") || strings.Contains(body, "<a href") {
						t.Errorf("body leaks source or a listing: %.200q", body)
					}
					return
				}
				if got := resp.Header.Get("Content-Type"); got != tc.wantType {
					t.Errorf("Content-Type %q, want %q", got, tc.wantType)
				}
				if got := resp.Header.Get("Cache-Control"); got != "public, max-age=3600" {
					t.Errorf("Cache-Control %q, want public, max-age=3600", got)
				}
				if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options %q, want nosniff", got)
				}
				if !strings.Contains(body, tc.wantBodyHas) {
					t.Errorf("body does not contain %q", tc.wantBodyHas)
				}
			})
		}
	}
}

// The stylesheet works under the pages' CSP: it imports nothing and loads no
// fonts or images from elsewhere.
func TestStaticCSSIsSelfContained(t *testing.T) {
	css := string(staticAssets["keystile.css"].body)
	for _, bad := range []string{"@import", "url(", "http:", "https:", "expression("} {
		if strings.Contains(css, bad) {
			t.Errorf("keystile.css contains %q", bad)
		}
	}
	for _, want := range []string{"prefers-color-scheme: dark", ":focus-visible", "--accent"} {
		if !strings.Contains(css, want) {
			t.Errorf("keystile.css lacks %q", want)
		}
	}
}

// TestPageScreenshots renders the pages in headless Chromium into
// $KEYSTILE_ARTIFACTS or a temporary directory. Like every browser test it
// fails without Chromium under CI=true and is skipped elsewhere.
func TestPageScreenshots(t *testing.T) {
	chromium := testutil.Chromium(t)
	dir := os.Getenv("KEYSTILE_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	ts := newPageTestServer(t)
	ts.set(func(ts *pageTestServer) {
		ts.login = loginView{ClientName: "Photo Album", RequestID: "r", CSRFToken: "c", Username: "alice", Error: "That username and password do not match. Check them and try again.", Scopes: []string{"openid", "profile", "email"}}
	})
	ts.set(func(ts *pageTestServer) {
		ts.errv = errorView{Code: "invalid_request", Message: "The application that sent you here is not registered with this sign-in service.", Title: titleCannotGoOn}
	})
	for _, shot := range []struct{ name, path, size string }{
		{"login-desktop.png", "/auth/authorize", "1280,800"},
		{"login-phone.png", "/auth/authorize", "360,740"},
		{"error-phone.png", "/auth/error", "360,740"},
	} {
		out := filepath.Join(dir, shot.name)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			"--window-size="+shot.size, "--screenshot="+out, ts.URL+shot.path)
		msg, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("chromium screenshot of %s: %v\n%s", shot.path, err, msg)
			continue
		}
		if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s is missing or empty", out)
			continue
		}
		t.Logf("screenshot: %s", out)
	}
}

// defaultPages is Keystile's own look, for tests that build a Server
// without New.
var defaultPages = func() *pageSet {
	p, err := newPageSet(Branding{}, nil)
	if err != nil {
		panic(fmt.Errorf("keystile: the embedded pages: %w", err))
	}
	return p
}()

// staticHandler serves the embedded static/ files alone, without branding.
func staticHandler() http.Handler { return serveAssets(staticAssets) }
