package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keystile/keystile/internal/testutil"
)

const brandedLogo = `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><circle cx="16" cy="16" r="16" fill="#0b7a75"/></svg>`

// TestLoadConfigBranding: the branding keys and templates_dir, from the
// file and from the environment, and a clear problem for each bad value.
func TestLoadConfigBranding(t *testing.T) {
	for _, tc := range []struct {
		name    string
		extra   string            // appended to spaOnly
		files   map[string]string // beside the configuration
		env     map[string]string
		wantErr []string
		check   func(t *testing.T, s *settings)
	}{
		{
			name:  "all keys",
			extra: "branding:\n  product_name: Acme ID\n  logo_file: brand/logo.svg\n  accent_color: \"#0b7a75\"\ntemplates_dir: pages\n",
			files: map[string]string{"brand/logo.svg": brandedLogo, "pages/login.html": `{{define "content"}}hi{{end}}`},
			check: func(t *testing.T, s *settings) {
				if s.Branding.ProductName != "Acme ID" || s.Branding.AccentColor != "#0b7a75" || string(s.Branding.Logo) != brandedLogo {
					t.Errorf("branding = %+v", s.Branding)
				}
				if s.Templates == nil {
					t.Fatal("templates_dir was not opened")
				}
				if b, err := fsReadFile(s, "login.html"); err != nil || !strings.Contains(b, "hi") {
					t.Errorf("templates_dir is not the pages directory: %q, %v", b, err)
				}
			},
		},
		{
			name:  "from the environment",
			extra: "branding:\n  product_name: From File\n",
			env:   map[string]string{"KEYSTILE_BRANDING_PRODUCT_NAME": "From Env", "KEYSTILE_BRANDING_ACCENT_COLOR": "#123456"},
			check: func(t *testing.T, s *settings) {
				if s.Branding.ProductName != "From Env" || s.Branding.AccentColor != "#123456" {
					t.Errorf("branding = %+v, want the environment's values", s.Branding)
				}
			},
		},
		{
			name:    "accent colour by name",
			extra:   "branding:\n  accent_color: teal\n",
			wantErr: []string{"branding.accent_color", `"teal"`, "#rrggbb"},
		},
		{
			name:    "accent colour from the environment",
			env:     map[string]string{"KEYSTILE_BRANDING_ACCENT_COLOR": "#12345"},
			wantErr: []string{"branding.accent_color (from KEYSTILE_BRANDING_ACCENT_COLOR)"},
		},
		{
			name:    "missing logo file",
			extra:   "branding:\n  logo_file: nope.svg\n",
			wantErr: []string{"branding.logo_file", "nope.svg"},
		},
		{
			name:    "templates_dir that is not there",
			extra:   "templates_dir: nope\n",
			wantErr: []string{"templates_dir", "is not a directory"},
		},
		{
			name:    "misspelt key in the section",
			extra:   "branding:\n  accent_colour: \"#0b7a75\"\n",
			wantErr: []string{`unknown key "accent_colour"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, dir, name, content)
			}
			path := writeFile(t, dir, "keystile.yaml", spaOnly+tc.extra)
			s, err := loadConfig(path, envMap(tc.env))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("the configuration loaded; want an error")
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func fsReadFile(s *settings, name string) (string, error) {
	f, err := s.Templates.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}

// TestServeBranded: keystile serve shows the configured look, and refuses
// to start, naming the file and line, when an override template is broken.
func TestServeBranded(t *testing.T) {
	clearKeystileEnv(t)
	dir := t.TempDir()
	writeFile(t, dir, "hs256.secret", strongSecret+"\n")
	writeFile(t, dir, "logo.svg", brandedLogo)
	writeFile(t, dir, "pages/signed_out.html", `{{define "content"}}<h1 id="page-title">Bye from {{.Product}}</h1>{{end}}`)
	config := writeFile(t, dir, "keystile.yaml", `issuer: http://127.0.0.1:9999
store: "memory:"
signing:
  algorithm: HS256
  secret_file: hs256.secret
branding:
  product_name: Acme ID
  logo_file: logo.svg
  accent_color: "#0b7a75"
templates_dir: pages
clients:
  - id: spa
    public: true
    redirect_uris: [https://app.example.com/callback]
`)
	s := start(t, "serve", "--config", config, "--listen", "127.0.0.1:0")
	resp := get(t, s.base+"/authorize?client_id=nobody")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Acme ID") || !strings.Contains(string(body), `src="static/logo.svg"`) {
		t.Errorf("error page: status %d, no branding:\n%s", resp.StatusCode, body)
	}
	resp = get(t, s.base+"/static/theme.css")
	css, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(css), "#0b7a75") {
		t.Errorf("theme.css = %q, want the accent colour", css)
	}
	resp = get(t, s.base+"/static/logo.svg")
	logo, _ := io.ReadAll(resp.Body)
	if string(logo) != brandedLogo {
		t.Errorf("logo.svg = %q, want the configured one", logo)
	}
	resp = get(t, s.base+"/logout")
	page, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(page), "Bye from Acme ID") {
		t.Errorf("/logout without a session does not use the signed_out.html override:\n%s", page)
	}
	s.stop()

	// A broken override stops the start with the file and the line.
	if err := os.WriteFile(filepath.Join(dir, "pages", "signed_out.html"), []byte("{{define \"content\"}}\n{{if}}\n{{end}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	code := run(context.Background(), []string{"serve", "--config", config, "--listen", "127.0.0.1:0"}, strings.NewReader(""), io.Discard, &stderr)
	if code == exitOK || !strings.Contains(stderr.String(), "signed_out.html:2") {
		t.Errorf("exit %d with a broken template; stderr:\n%s\nwant a failure naming signed_out.html:2", code, stderr.String())
	}
}
