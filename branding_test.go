package keystile

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keystile/keystile/store/memory"
)

const testSVGLogo = `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="#0b7a75"/></svg>`

func testPNGLogo(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(0, 0, color.Black)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// brandingConfig is a minimal valid Config with the given look.
func brandingConfig(t *testing.T, issuer string, b Branding, templates fstest.MapFS) Config {
	t.Helper()
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewSigningKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Issuer:  issuer,
		Clients: []Client{{ID: "spa", Name: "Photo Album", Public: true, RedirectURIs: []string{spaRedirect}, Scopes: []string{"openid", "read"}}},
		Store:   memory.New(),
		Keys:    []SigningKey{key},
		ValidateUser: func(context.Context, string, string) (Identity, error) {
			return Identity{}, ErrInvalidCredentials
		},
		Branding: b,
	}
	if templates != nil {
		cfg.Templates = templates
	}
	return cfg
}

// TestBrandingIsCheckedAtStart: a bad colour, logo or template stops New
// with an error that names the setting, instead of a broken page later.
func TestBrandingIsCheckedAtStart(t *testing.T) {
	pngLogo := testPNGLogo(t)
	cases := []struct {
		name      string
		branding  Branding
		templates fstest.MapFS
		wantErr   string // "" = New succeeds
	}{
		{"no branding", Branding{}, nil, ""},
		{"accent colour", Branding{AccentColor: "#0b7a75"}, nil, ""},
		{"accent colour in capitals", Branding{AccentColor: "#0B7A75"}, nil, ""},
		{"accent colour by name", Branding{AccentColor: "teal"}, nil, "Config.Branding.AccentColor"},
		{"accent colour short form", Branding{AccentColor: "#0b7"}, nil, "Config.Branding.AccentColor"},
		{"accent colour with alpha", Branding{AccentColor: "#0b7a75ff"}, nil, "Config.Branding.AccentColor"},
		{"accent colour not hex", Branding{AccentColor: "#0b7a7g"}, nil, "Config.Branding.AccentColor"},
		{"accent colour smuggling CSS", Branding{AccentColor: "#000;}*{"}, nil, "Config.Branding.AccentColor"},
		{"accent colour with a space", Branding{AccentColor: " #0b7a75"}, nil, "Config.Branding.AccentColor"},
		{"SVG logo, type detected", Branding{Logo: []byte(testSVGLogo)}, nil, ""},
		{"PNG logo, type detected", Branding{Logo: pngLogo}, nil, ""},
		{"PNG logo, type given", Branding{Logo: pngLogo, LogoType: "image/png"}, nil, ""},
		{"logo that is no image", Branding{Logo: []byte("hello")}, nil, "Config.Branding.Logo"},
		{"logo of another type than said", Branding{Logo: []byte(testSVGLogo), LogoType: "image/png"}, nil, "Config.Branding.Logo"},
		{"logo type not accepted", Branding{Logo: []byte("GIF89a..."), LogoType: "image/gif"}, nil, "Config.Branding.LogoType"},
		{"logo too large", Branding{Logo: append(bytes.Clone(pngLogo), make([]byte, maxLogoBytes)...)}, nil, "Config.Branding.Logo"},
		{"override of one page", Branding{}, fstest.MapFS{"login.html": {Data: []byte(`{{define "content"}}<h1 id="page-title">Hi</h1>{{end}}`)}}, ""},
		{"override with other files beside it", Branding{}, fstest.MapFS{"login.html": {Data: []byte(`{{define "content"}}x{{end}}`)}, "README.md": {Data: []byte("notes")}}, ""},
		{"override that does not parse", Branding{}, fstest.MapFS{"login.html": {Data: []byte(`{{define "content"}}{{if}}{{end}}`)}}, "login.html"},
		{"override that uses a missing field", Branding{}, fstest.MapFS{"error.html": {Data: []byte(`{{define "content"}}{{.Stack}}{{end}}`)}}, "error.html"},
		{"layout without a layout template", Branding{}, fstest.MapFS{"layout.html": {Data: []byte(`<html>{{template "content" .}}</html>`)}}, "layout"},
		{"misspelt page name", Branding{}, fstest.MapFS{"logn.html": {Data: []byte(`x`)}}, `"logn.html" is not one of the page templates`},
		{"a directory with no page", Branding{}, fstest.MapFS{"README.md": {Data: []byte("notes")}}, "holds none of the page templates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(brandingConfig(t, "https://auth.example.com", tc.branding, tc.templates))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("New accepted it; want an error about %s", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("New: %v; want it to name %s", err, tc.wantErr)
			}
		})
	}
}

// TestBrandedLoginPage: the product name, logo and colour reach the real
// login page, from the server's own static path, under the unchanged CSP.
func TestBrandedLoginPage(t *testing.T) {
	logo := testPNGLogo(t)
	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String()
	srv, err := New(brandingConfig(t, issuer, Branding{ProductName: "Acme ID", Logo: logo, AccentColor: "#0b7a75"}, fstest.MapFS{
		"error.html": {Data: []byte(`{{define "content"}}<h1 id="page-title">Acme could not sign you in</h1><p>{{.Message}}</p>{{end}}`)},
	}))
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	defer hs.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := hs.Client().Get(issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	q := authorizeQuery()
	q.Set("scope", "openid")
	resp, body := get("/authorize?" + q.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/authorize: status %d", resp.StatusCode)
	}
	assertPageHeaders(t, resp)
	if !strings.Contains(body, `<span class="brand-name">Acme ID</span>`) || !strings.Contains(body, "<title>Sign in · Acme ID</title>") {
		t.Error("the login page does not show the product name")
	}
	if findTag(body, "img", "src", "static/logo.png") == nil {
		t.Errorf("the login page does not show the logo from static/logo.png: %v", tags(body, "img"))
	}
	if findTag(body, "link", "href", "static/theme.css") == nil {
		t.Error("the login page does not load static/theme.css")
	}

	resp, got := get("/static/logo.png")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || got != string(logo) {
		t.Errorf("static/logo.png: status %d, type %q, %d bytes; want the configured PNG", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}
	resp, css := get("/static/theme.css")
	if resp.StatusCode != http.StatusOK || !strings.Contains(css, "--accent: #0b7a75;") {
		t.Errorf("static/theme.css: status %d, %q; want the accent colour", resp.StatusCode, css)
	}

	// The override of error.html is used; the layout around it is still
	// Keystile's, with the branding.
	resp, body = get("/authorize?client_id=nobody")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Acme could not sign you in") || !strings.Contains(body, "Acme ID") {
		t.Errorf("unknown client: status %d, page does not use the error.html override:\n%s", resp.StatusCode, body)
	}
	assertPageHeaders(t, resp)
}

var cssVar = regexp.MustCompile(`--([a-z-]+): (#[0-9a-f]{6});`)

// TestThemeContrast: whatever accent an operator picks, the button label
// stays readable (WCAG AA, 4.5:1), focus rings stay visible (3:1), and in
// dark mode the accent stands out from the dark surface.
func TestThemeContrast(t *testing.T) {
	for _, accent := range []string{"#0b7a75", "#ffd700", "#ffffff", "#000000", "#777777", "#1a237e", "#ff0000", "#00ff00", "#4f46e5"} {
		t.Run(accent, func(t *testing.T) {
			css, err := themeCSS(accent)
			if err != nil {
				t.Fatal(err)
			}
			light, dark, ok := strings.Cut(string(css), "prefers-color-scheme: dark")
			if !ok {
				t.Fatalf("no dark mode in %s", css)
			}
			for _, scheme := range []struct {
				name, css string
				surface   string
				accentMin float64
			}{
				{"light", light, "#ffffff", 1},
				{"dark", dark, "#171a21", 4.5},
			} {
				v := map[string]rgb{}
				for _, m := range cssVar.FindAllStringSubmatch(scheme.css, -1) {
					v[m[1]] = mustColor(m[2])
				}
				if len(v) != 4 {
					t.Fatalf("%s: variables %v, want accent, accent-hover, on-accent, focus", scheme.name, v)
				}
				surface := mustColor(scheme.surface)
				for _, bg := range []string{"accent", "accent-hover"} {
					if c := contrast(v["on-accent"], v[bg]); c < 4.5 {
						t.Errorf("%s: button label on --%s: contrast %.2f, want at least 4.5", scheme.name, bg, c)
					}
				}
				if c := contrast(v["focus"], surface); c < 3 {
					t.Errorf("%s: focus ring contrast %.2f, want at least 3", scheme.name, c)
				}
				if c := contrast(v["accent"], surface); c < scheme.accentMin {
					t.Errorf("%s: accent contrast %.2f on the surface, want at least %.1f", scheme.name, c, scheme.accentMin)
				}
			}
			if !strings.Contains(light, "--accent: "+accent+";") {
				t.Errorf("light mode does not use the accent %s as given:\n%s", accent, light)
			}
		})
	}
}
