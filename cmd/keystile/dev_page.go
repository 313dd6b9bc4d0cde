package main

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// devPage is the development server's own page: who signs in, a form to
// switch, and the clients apps have used. It says, as every page of the
// server does, that this is a development server. It is parsed at its first
// use: only `keystile dev` shows it.
var devPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("dev").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Banner}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
.banner{background:#b00020;color:#fff;padding:1rem;font-weight:bold;font-size:1.2rem}
textarea,input{font:inherit;width:100%}code{background:#eee;padding:0 .2em}
</style></head>
<body>
<p class="banner" id="banner">⚠ {{.Banner}}: anyone who reaches it is signed in without a password.</p>
<h1>Keystile dev</h1>
<p>Every sign-in is <strong id="user">{{.User}}</strong>{{with .Claims}} with the claims <code id="claims">{{.}}</code>{{end}}.</p>
<form method="post" action="/dev/user">
<p><label>User <input name="user" value="{{.User}}" required></label></p>
<p><label>Claims, one NAME=VALUE a line <textarea name="claims" rows="4">{{.ClaimLines}}</textarea></label></p>
<p><button type="submit" id="switch">Sign in as this user from now on</button></p>
</form>
<h2>Use it</h2>
<p>Issuer <code>{{.Issuer}}</code> (discovery at <code>/.well-known/openid-configuration</code>). Any client id
works, as a public client with PKCE, with any loopback redirect URI (<code>http://127.0.0.1:PORT/…</code>,
<code>http://localhost:PORT/…</code>); the device flow too (<code>/device_authorization</code>).</p>
{{with .Clients}}<p>Clients seen: {{range $i, $c := .}}{{if $i}}, {{end}}<code>{{$c}}</code>{{end}}</p>{{end}}
</body></html>
`))
})

func (d *devServer) handlePage(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	var lines, pairs []string
	for _, k := range slices.Sorted(mapKeys(d.claims)) {
		v, _ := d.claims[k].(string)
		lines = append(lines, k+"="+v)
		pairs = append(pairs, k+"="+v)
	}
	clients := slices.Sorted(mapKeys(d.clients))
	data := struct {
		Banner, User, Issuer, Claims, ClaimLines string
		Clients                                  []string
	}{devBanner, d.user, d.issuer, strings.Join(pairs, " "), strings.Join(lines, "\n"), clients}
	d.mu.Unlock()
	var buf bytes.Buffer
	if err := devPage().Execute(&buf, data); err != nil {
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(buf.Bytes())
}

// handleSwitch changes who signs in, from the page's form. Only a
// same-origin form may (http.CrossOriginProtection): a page on another
// site cannot switch the developer's user. A field given twice is refused,
// as the server refuses repeated parameters everywhere (RFC 6749 §3.1),
// instead of PostForm.Get silently taking the first.
func (d *devServer) handleSwitch(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, devBodyLimit)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	for _, name := range []string{"user", "claims"} {
		if len(r.PostForm[name]) > 1 {
			http.Error(w, "the field "+name+" is repeated", http.StatusBadRequest)
			return
		}
	}
	user := strings.TrimSpace(r.PostForm.Get("user"))
	if err := checkSubject(user); err != nil {
		http.Error(w, "user: "+err.Error(), http.StatusBadRequest)
		return
	}
	claims := map[string]any{}
	for _, line := range strings.Split(r.PostForm.Get("claims"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if err := addClaim(claims, line); err != nil {
			http.Error(w, "claims: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	d.mu.Lock()
	d.user, d.claims = user, claims
	d.mu.Unlock()
	d.log.Info("development user switched", "sub", user)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
