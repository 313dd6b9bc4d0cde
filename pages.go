package keystile

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The pages and their assets are compiled into the binary, so that a
// deployment is one file and a page can never load anything from elsewhere.
var (
	//go:embed templates
	templateFiles embed.FS
	//go:embed static
	staticFiles embed.FS
)

// pageSet is what a server renders its pages with: the templates and the
// static assets, with the branding applied. New builds one; a Server built
// without New (in tests) uses defaultPages.
type pageSet struct {
	login, errorPage, logout, signedOut *template.Template
	assets                              map[string]staticAsset // below static/
	logoURL                             string                 // relative to the page
}

// defaultPages is Keystile's own look. Building it at start-up turns a
// broken embedded template into a failed test, not a 500.
var defaultPages = func() *pageSet {
	p, err := newPageSet(Branding{}, nil)
	if err != nil {
		panic(fmt.Errorf("keystile: the embedded pages: %w", err))
	}
	return p
}()

// pageFiles are the templates of the pages: the shared layout, which
// defines "layout", and one file per page, which defines "content".
// Config.Templates may override any of them.
var pageFiles = []string{"layout.html", "login.html", "error.html", "logout.html", "signed_out.html"}

// maxTemplateBytes bounds an override template file.
const maxTemplateBytes = 1 << 20

func (s *Server) pageSet() *pageSet {
	if s.pages != nil {
		return s.pages
	}
	return defaultPages
}

// newPageSet parses the templates, Keystile's own or the overrides in
// overrides, renders each page once with sample data so that a template
// that cannot execute fails here rather than in front of a user, and builds
// the static assets with the branding's logo and theme.
func newPageSet(b Branding, overrides fs.FS) (*pageSet, error) {
	src, err := templateSources(overrides)
	if err != nil {
		return nil, err
	}
	p := &pageSet{assets: maps.Clone(staticAssets), logoURL: "static/logo.svg"}
	if b.Logo != nil {
		name, ct, err := logoAsset(b)
		if err != nil {
			return nil, fmt.Errorf("keystile: %w", err)
		}
		p.assets[name] = newStaticAsset(b.Logo, ct)
		p.logoURL = "static/" + name
	}
	if b.AccentColor != "" {
		css, err := themeCSS(b.AccentColor)
		if err != nil {
			return nil, fmt.Errorf("keystile: Config.Branding.AccentColor: %w", err)
		}
		p.assets["theme.css"] = newStaticAsset(css, staticTypes[".css"])
	}
	for _, page := range []struct {
		file   string
		dst    **template.Template
		sample any
	}{
		{"login.html", &p.login, loginPage{
			loginView:  loginView{ClientName: "Sample App", RequestID: "r", CSRFToken: "c", Username: "sample", Error: "Sample error.", Scopes: []string{"openid", "sample"}},
			ScopeLines: scopeLines([]string{"openid", "sample"}), FocusPassword: true,
		}},
		{"error.html", &p.errorPage, errorPage{errorView: errorView{Code: codeInvalidRequest, Message: "Sample message.", Title: titleInvalidLink}, Hint: "Sample hint."}},
		{"logout.html", &p.logout, logoutPage{logoutView: logoutView{ClientName: "Sample App", Subject: "sample", CSRFToken: "c", ClientID: "app", PostLogoutRedirectURI: "https://app.example/", State: "s", IDTokenHint: "h"}}},
		{"signed_out.html", &p.signedOut, signedOutPage{}},
	} {
		t, err := template.New("layout.html").Parse(src["layout.html"])
		if err == nil {
			_, err = t.New(page.file).Parse(src[page.file])
		}
		if err == nil {
			err = t.ExecuteTemplate(io.Discard, "layout", withLayout(page.sample, layoutData{Product: "Sample", Title: "Sample", LogoURL: p.logoURL}))
		}
		if err != nil {
			return nil, fmt.Errorf("keystile: Config.Templates: %s with layout.html: %w", page.file, err)
		}
		*page.dst = t
	}
	return p, nil
}

// templateSources returns the text of every template file: the override
// when overrides has it, Keystile's own otherwise. An override directory
// with a file that is no page (a typo such as "logn.html") or with none of
// them (a wrong path) is an error, not a silent fallback.
func templateSources(overrides fs.FS) (map[string]string, error) {
	src := make(map[string]string, len(pageFiles))
	for _, name := range pageFiles {
		b, err := fs.ReadFile(templateFiles, "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("keystile: the embedded template %s: %w", name, err)
		}
		src[name] = string(b)
	}
	if overrides == nil {
		return src, nil
	}
	entries, err := fs.ReadDir(overrides, ".")
	if err != nil {
		return nil, fmt.Errorf("keystile: Config.Templates: %w", err)
	}
	found := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".html" {
			continue
		}
		if !slices.Contains(pageFiles, name) {
			return nil, fmt.Errorf("keystile: Config.Templates: %q is not one of the page templates (%s)", name, strings.Join(pageFiles, ", "))
		}
		b, err := fs.ReadFile(overrides, name)
		if err != nil {
			return nil, fmt.Errorf("keystile: Config.Templates: %w", err)
		}
		if len(b) > maxTemplateBytes {
			return nil, fmt.Errorf("keystile: Config.Templates: %s is larger than %d bytes", name, maxTemplateBytes)
		}
		src[name] = string(b)
		found++
	}
	if found == 0 {
		return nil, fmt.Errorf("keystile: Config.Templates holds none of the page templates (%s)", strings.Join(pageFiles, ", "))
	}
	return src, nil
}

// layoutData is what the layout shows on every page. Templates see its
// fields as .Product, .Title and .LogoURL next to the page's own.
type layoutData struct {
	Product string // the product name
	Title   string // the page's title
	LogoURL string // the logo, relative to the page ("static/logo.svg")
}

// withLayout fills the layout fields of a page's data.
func withLayout(data any, l layoutData) any {
	switch d := data.(type) {
	case loginPage:
		d.Product, d.Title, d.LogoURL = l.Product, l.Title, l.LogoURL
		return d
	case errorPage:
		// The error page's title comes from its view.
		d.Product, d.LogoURL = l.Product, l.LogoURL
		return d
	case logoutPage:
		d.Product, d.Title, d.LogoURL = l.Product, l.Title, l.LogoURL
		return d
	case signedOutPage:
		d.Product, d.Title, d.LogoURL = l.Product, l.Title, l.LogoURL
		return d
	}
	return data
}

// logoutView is the sign-out confirmation: a form that posts back what the
// client sent, so that the POST can redirect where the GET was asked to.
type logoutView struct {
	ClientName, Subject, CSRFToken                      string
	ClientID, PostLogoutRedirectURI, State, IDTokenHint string
}

type logoutPage struct {
	logoutView
	Product, Title, LogoURL string
}

type signedOutPage struct {
	Product, Title, LogoURL string
}

// renderLogout writes the sign-out confirmation page.
func (s *Server) renderLogout(w http.ResponseWriter, v logoutView) {
	p := s.pageSet()
	s.renderPage(w, http.StatusOK, p.logout, logoutPage{logoutView: v, Product: s.productName(), Title: "Sign out", LogoURL: p.logoURL})
}

// renderSignedOut writes the page shown after sign-out when there is no
// registered place to send the browser back to.
func (s *Server) renderSignedOut(w http.ResponseWriter) {
	p := s.pageSet()
	s.renderPage(w, http.StatusOK, p.signedOut, signedOutPage{Product: s.productName(), Title: "Signed out", LogoURL: p.logoURL})
}

// pageCSP allows the page's own stylesheet and images and nothing else: no
// script at all, no framing (clickjacking of the login form), no <base> or
// plugins (SECURITY.md §6). It deliberately has no form-action: Chromium
// applies form-action to the 303 that follows the login POST, and that
// redirect goes to the client's redirect URI on another origin.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// loginView is what the authorize and login handlers know about the login
// form. Every field is request data or derived from it, and is escaped by
// html/template.
type loginView struct {
	ClientName string   // the client's display name
	RequestID  string   // the pending authorization request, posted back
	CSRFToken  string   // posted back; checked against the pending request
	Username   string   // kept on retry
	Error      string   // a safe sentence for the user, or ""
	Scopes     []string // requested scope values, shown in plain words
}

// errorView is an error page. Code is the OAuth error code (RFC 6749
// §4.1.2.1), shown small; Message is a safe sentence for the user. Title is
// the heading; when empty, renderError picks one by Code.
type errorView struct {
	Code    string
	Message string
	Title   string
}

// loginPage and errorPage are the template data: the view plus what the
// layout needs.
type loginPage struct {
	loginView
	Product       string
	Title         string
	LogoURL       string
	ScopeLines    []scopeLine
	FocusPassword bool
}

type errorPage struct {
	errorView
	Product string
	LogoURL string
	Hint    string
}

// scopeLine is one requested scope: a sentence when the scope is a standard
// one, otherwise the raw value, shown as code.
type scopeLine struct {
	Text  string
	Scope string
}

// scopeWords describes the standard OIDC scopes (OIDC Core §5.4, §11) in
// the words a user would use.
var scopeWords = map[string]string{
	"openid":         "Confirm who you are",
	"profile":        "See your basic profile, such as your name",
	"email":          "See your email address",
	"phone":          "See your phone number",
	"address":        "See your postal address",
	"offline_access": "Stay signed in while you are away",
}

func scopeLines(scopes []string) []scopeLine {
	lines := make([]scopeLine, 0, len(scopes))
	seen := make(map[string]bool, len(scopes))
	for _, sc := range scopes {
		if sc == "" || seen[sc] {
			continue
		}
		seen[sc] = true
		if text, ok := scopeWords[sc]; ok {
			lines = append(lines, scopeLine{Text: text})
		} else {
			lines = append(lines, scopeLine{Text: "Use the permission", Scope: sc})
		}
	}
	return lines
}

// Titles of the error page, by what went wrong from the user's point of view.
const (
	titleInvalidLink = "This sign-in link is not valid"
	titleCannotGoOn  = "We can't continue this sign-in"
	titleExpired     = "This sign-in page has expired"
	titleServer      = "Something went wrong"
)

// defaultErrorTitle is the heading of an error page whose error names none.
// An error whose code says too little (an unknown application and a
// malformed link are both invalid_request) carries its own title.
func defaultErrorTitle(code string) string {
	switch code {
	case codeServerError:
		return titleServer
	case codeInvalidRequest:
		return titleInvalidLink
	default:
		return titleCannotGoOn
	}
}

// renderLogin writes the login form with the given status.
func (s *Server) renderLogin(w http.ResponseWriter, status int, v loginView) {
	ps := s.pageSet()
	p := loginPage{
		loginView:  v,
		Product:    s.productName(),
		Title:      "Sign in",
		LogoURL:    ps.logoURL,
		ScopeLines: scopeLines(v.Scopes),
		// On a retry the username is already there: the password is what
		// the user has to type again.
		FocusPassword: v.Error != "" && v.Username != "",
	}
	s.renderPage(w, status, ps.login, p)
}

// renderError writes an error page with the given status. It shows the
// message and the code, never a cause: errorView carries none.
func (s *Server) renderError(w http.ResponseWriter, status int, v errorView) {
	if v.Title == "" {
		v.Title = defaultErrorTitle(v.Code)
	}
	ps := s.pageSet()
	p := errorPage{errorView: v, Product: s.productName(), LogoURL: ps.logoURL}
	if v.Message == "" {
		p.Message = "The sign-in could not be completed."
	}
	if v.Code == codeServerError {
		p.Hint = "Please try again in a few minutes. If it keeps happening, contact the application's support."
	} else {
		p.Hint = "Go back to the application you came from and start signing in again."
	}
	s.renderPage(w, status, ps.errorPage, p)
}

func (s *Server) productName() string {
	if s.cfg.Branding.ProductName != "" {
		return s.cfg.Branding.ProductName
	}
	return "Keystile"
}

// renderPage executes the page into a buffer before touching the response,
// so that a template error becomes a plain 500, not half a page under a 200.
func (s *Server) renderPage(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		log := s.log
		if log == nil {
			log = slog.Default()
		}
		log.Error("rendering a page failed", "template", t.Name(), "error", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	// Also set here, not only in pageHeaders, so that a page rendered from a
	// route without that middleware is still never cached or framed.
	setPageHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// pageHeaders sets the security headers every HTML page and every redirect
// from a page route needs (SECURITY.md §6): the CSP, anti-framing, no
// referrer (the URL may carry a code or state), and no caching (the page
// holds a CSRF token and the user's name).
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// staticAsset is one embedded file, read once at start-up.
type staticAsset struct {
	body        []byte
	contentType string
	etag        string
}

// staticTypes are set explicitly rather than taken from the system's MIME
// table, which varies between machines.
var staticTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
}

// staticAssets maps a file's name below static/ ("keystile.css") to its
// content. Only regular files are in it, so a directory, a path with ".."
// or any other name is simply not found.
var staticAssets = mustLoadStatic()

func mustLoadStatic() map[string]staticAsset {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(fmt.Errorf("keystile: opening embedded static files: %w", err))
	}
	assets := map[string]staticAsset{}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		ct, ok := staticTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		assets[name] = newStaticAsset(body, ct)
		return nil
	})
	if err != nil {
		panic(fmt.Errorf("keystile: loading embedded static files: %w", err))
	}
	return assets
}

func newStaticAsset(body []byte, contentType string) staticAsset {
	sum := sha256.Sum256(body)
	return staticAsset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// staticHandler serves the server's static files: the embedded ones, with
// the branding's logo and theme.css.
func (s *Server) staticHandler() http.Handler { return serveAssets(s.pageSet().assets) }

// staticHandler serves the embedded static/ files alone, without branding.
func staticHandler() http.Handler { return serveAssets(staticAssets) }

// serveAssets serves assets, the files below static/ by name. It is
// registered as "/static/*" on a chi router mounted at the issuer's path;
// the file name is the route's wildcard, so the mount prefix does not
// matter. Without a chi route it takes what follows the first "/static/" of
// the path. There are no directory listings: only the assets' exact names
// are found.
func serveAssets(assets map[string]staticAsset) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := assets[staticName(r)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		// An SVG opened directly is a document; it gets nothing to run.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// staticName is the requested file's name relative to static/, or "" when
// there is none.
func staticName(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		// The last "*" is this route's: a Mount adds its own before it.
		if i := lastIndex(rctx.URLParams.Keys, "*"); i >= 0 {
			name := rctx.URLParams.Values[i]
			// chi routes on the escaped path when there is one.
			if r.URL.RawPath != "" {
				unescaped, err := url.PathUnescape(name)
				if err != nil {
					return ""
				}
				name = unescaped
			}
			return name
		}
	}
	_, name, ok := strings.Cut(r.URL.Path, "/static/")
	if !ok {
		return ""
	}
	return name
}

func lastIndex(keys []string, key string) int {
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i] == key {
			return i
		}
	}
	return -1
}
