package keystile

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
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
// static assets, with the branding applied. New builds one.
type pageSet struct {
	login, errorPage, logout, signedOut, device *template.Template
	assets                                      map[string]staticAsset // below static/
	logoURL                                     string                 // relative to the page
}

// pageFiles are the templates of the pages: the shared layout, which
// defines "layout", parts.html, which defines blocks pages share ("alert",
// "scopes"), and one file per page, which defines "content".
// Config.Templates may override any of them.
var pageFiles = []string{"layout.html", "parts.html", "login.html", "error.html", "logout.html", "signed_out.html", "device.html"}

// pageFuncs are the functions page templates may call: alert builds the
// argument of the "alert" block of parts.html.
var pageFuncs = template.FuncMap{
	"alert": func(id, text string) struct{ ID, Text string } { return struct{ ID, Text string }{id, text} },
}

// maxTemplateBytes bounds an override template file.
const maxTemplateBytes = 1 << 20

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
			loginView:  loginView{ClientName: "Sample App", RequestID: "r", CSRFToken: "c", Username: "sample", Error: "Sample error.", Scopes: []string{"openid", "sample"}, Resources: []string{"https://api.example.com"}},
			ScopeLines: scopeLines([]string{"openid", "sample"}), FocusPassword: true,
		}},
		{"error.html", &p.errorPage, errorPage{errorView: errorView{Code: codeInvalidRequest, Message: "Sample message.", Title: titleInvalidLink}, Hint: "Sample hint."}},
		{"logout.html", &p.logout, logoutPage{logoutView: logoutView{ClientName: "Sample App", Subject: "sample", CSRFToken: "c", ClientID: "app", PostLogoutRedirectURI: "https://app.example/", State: "s", IDTokenHint: "h"}}},
		{"signed_out.html", &p.signedOut, signedOutPage{}},
		{"device.html", &p.device, devicePage{deviceView: deviceView{CSRFToken: "c", UserCode: "BCDF-GHJK", ClientName: "Sample App", Scopes: []string{"openid"}, Resources: []string{"https://api.example.com"}, Error: "Sample error."}, ScopeLines: scopeLines([]string{"openid", "sample"})}},
	} {
		t, err := template.New("layout.html").Funcs(pageFuncs).Parse(src["layout.html"])
		if err == nil {
			_, err = t.New("parts.html").Parse(src["parts.html"])
		}
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
	case devicePage:
		d.Product, d.Title, d.LogoURL = l.Product, l.Title, l.LogoURL
		return d
	case signedOutPage:
		d.Product, d.Title, d.LogoURL = l.Product, l.Title, l.LogoURL
		return d
	}
	return data
}

// pageCSP allows the page's own stylesheet and images and nothing else: no
// script at all, no framing (clickjacking of the login form), no <base> or
// plugins (docs/security.md §6). It deliberately has no form-action: Chromium
// applies form-action to the 303 that follows the login POST, and that
// redirect goes to the client's redirect URI on another origin.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

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
// from a page route needs (docs/security.md §6): the CSP, anti-framing, no
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
