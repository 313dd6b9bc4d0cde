package tests

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// hostileCase is one malformed request. build returns it with the browser
// that sends it (so that /login cases can carry a real form and cookie).
type hostileCase struct {
	name  string
	build func(t *testing.T, e *env, b *browser) *http.Request
}

func newRequest(t *testing.T, method, u, contentType string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, u, body)
	if err != nil {
		t.Fatalf("new request %s %q: %v", method, u, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

const formType = "application/x-www-form-urlencoded"

// validAuthorizeQuery is a correct /authorize query for the public client.
func validAuthorizeQuery() url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect}, "state": {"s"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"},
	}
}

// manyParams is base plus n distinct junk parameters.
func manyParams(base url.Values, n int) string {
	var sb strings.Builder
	sb.WriteString(base.Encode())
	for i := range n {
		fmt.Fprintf(&sb, "&p%d=v", i)
	}
	return sb.String()
}

// bigForm is a form-encoded body of about n bytes.
func bigForm(n int) string {
	return "grant_type=authorization_code&pad=" + strings.Repeat("A", n)
}

// chunked hides the length of body, so the server must stop reading itself.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func authorizeURL(e *env, rawQuery string) string { return e.issuer + "/authorize?" + rawQuery }

// loginWith posts the browser's real login form with some fields replaced.
func loginWith(t *testing.T, e *env, b *browser, set url.Values, raw string) *http.Request {
	t.Helper()
	conf := e.oauthConfig("spa", oauth2.AuthStyleInParams)
	f := b.authorize(testContext(t), conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	v := url.Values{"username": {"alice"}, "password": {e.users["alice"].password}}
	for k, vs := range f.fields {
		v[k] = vs
	}
	for k, vs := range set {
		v[k] = vs
	}
	return newRequest(t, http.MethodPost, f.action, formType, strings.NewReader(v.Encode()+raw))
}

func hostileCases() []hostileCase {
	const mib = 1 << 20
	q := func(k, v string) string {
		vals := validAuthorizeQuery()
		vals.Set(k, v)
		return vals.Encode()
	}
	tokenForm := "grant_type=authorization_code&client_id=spa&redirect_uri=" + url.QueryEscape(spaRedirect) + "&code_verifier=" + oauth2.GenerateVerifier()
	nulIn := func(param string) func(*testing.T, *env, *browser) *http.Request {
		return func(t *testing.T, e *env, _ *browser) *http.Request {
			v := validAuthorizeQuery()
			v.Set(param, v.Get(param)+"\x00"+v.Get(param))
			return newRequest(t, http.MethodGet, authorizeURL(e, v.Encode()), "", nil)
		}
	}
	return []hostileCase{
		// /authorize
		{"authorize: 1 MiB query", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, authorizeURL(e, q("state", strings.Repeat("s", mib))), "", nil)
		}},
		{"authorize: 64 KiB state", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, authorizeURL(e, q("state", strings.Repeat("s", 64<<10))), "", nil)
		}},
		{"authorize: 64 KiB redirect_uri", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, authorizeURL(e, q("redirect_uri", spaRedirect+"?"+strings.Repeat("r", 64<<10))), "", nil)
		}},
		{"authorize: 1 MiB form body", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/authorize", formType, strings.NewReader(validAuthorizeQuery().Encode()+"&pad="+strings.Repeat("A", mib)))
		}},
		{"authorize: 1 MiB form body without a length", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/authorize", formType, chunked{strings.NewReader(validAuthorizeQuery().Encode() + "&pad=" + strings.Repeat("A", mib))})
		}},
		{"authorize: 1000 parameters in the query", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, authorizeURL(e, manyParams(validAuthorizeQuery(), 1000)), "", nil)
		}},
		{"authorize: 1000 parameters in a POST", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/authorize", formType, strings.NewReader(manyParams(validAuthorizeQuery(), 1000)))
		}},
		{"authorize: the same parameter 1000 times", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, authorizeURL(e, validAuthorizeQuery().Encode()+strings.Repeat("&redirect_uri=https%3A%2F%2Fevil.example%2F", 1000)), "", nil)
		}},
		{"authorize: invalid percent-encoding in state", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, authorizeURL(e, validAuthorizeQuery().Encode()+"&state=%zz%"), "", nil)
		}},
		{"authorize: invalid percent-encoding in redirect_uri", func(t *testing.T, e *env, _ *browser) *http.Request {
			vals := validAuthorizeQuery()
			vals.Del("redirect_uri")
			return newRequest(t, http.MethodGet, authorizeURL(e, vals.Encode()+"&redirect_uri=https%3A%2F%2Fspa.example.test%2Fcallback%G0"), "", nil)
		}},
		{"authorize: invalid percent-encoding in a POST", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/authorize", formType, strings.NewReader(validAuthorizeQuery().Encode()+"&%=%%"))
		}},
		{"authorize: NUL in state", nulIn("state")},
		{"authorize: NUL in client_id", nulIn("client_id")},
		{"authorize: NUL in redirect_uri", nulIn("redirect_uri")},
		{"authorize: invalid UTF-8 in state", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, authorizeURL(e, q("state", "\xff\xfe\xfd")), "", nil)
		}},
		{"authorize: CR LF in state of an error redirect", func(t *testing.T, e *env, _ *browser) *http.Request {
			vals := validAuthorizeQuery()
			vals.Set("state", "x\r\nSet-Cookie: evil=1\r\nLocation: https://evil.example/")
			vals.Set("code_challenge_method", "plain")
			return newRequest(t, http.MethodGet, authorizeURL(e, vals.Encode()), "", nil)
		}},
		{"authorize: JSON body", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/authorize", "application/json", strings.NewReader(`{"client_id":"spa","redirect_uri":"https://evil.example/"}`))
		}},
		{"authorize: multipart body", func(t *testing.T, e *env, _ *browser) *http.Request {
			body := "--b\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nspa\r\n--b--\r\n"
			return newRequest(t, http.MethodPost, e.issuer+"/authorize", "multipart/form-data; boundary=b", strings.NewReader(body))
		}},
		{"authorize: form body with a bad content type parameter", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/authorize", "application/x-www-form-urlencoded; charset=\"", strings.NewReader(validAuthorizeQuery().Encode()))
		}},
		{"authorize: PUT", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPut, authorizeURL(e, validAuthorizeQuery().Encode()), "", nil)
		}},

		// /login
		{"login: 1 MiB body", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/login", formType, strings.NewReader(bigForm(mib)))
		}},
		{"login: 1 MiB body without a length", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/login", formType, chunked{strings.NewReader(bigForm(mib))})
		}},
		{"login: 1000 parameters", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/login", formType, strings.NewReader(manyParams(url.Values{"username": {"alice"}}, 1000)))
		}},
		{"login: 1000 parameters on a real form", func(t *testing.T, e *env, b *browser) *http.Request {
			return loginWith(t, e, b, nil, "&"+manyParams(url.Values{}, 1000))
		}},
		{"login: invalid percent-encoding", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/login", formType, strings.NewReader("request_id=%zz&csrf_token=%&username=%00%"))
		}},
		{"login: invalid percent-encoding on a real form", func(t *testing.T, e *env, b *browser) *http.Request {
			return loginWith(t, e, b, nil, "&password=%G")
		}},
		{"login: NUL in request_id", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/login", formType, strings.NewReader(url.Values{"request_id": {"abc\x00def"}, "csrf_token": {"\x00"}}.Encode()))
		}},
		{"login: NUL in username and password", func(t *testing.T, e *env, b *browser) *http.Request {
			return loginWith(t, e, b, url.Values{"username": {"alice\x00admin"}, "password": {"\x00" + e.users["alice"].password}}, "")
		}},
		{"login: very long request_id", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/login", formType, strings.NewReader(url.Values{"request_id": {strings.Repeat("r", 60<<10)}}.Encode()))
		}},
		{"login: very long username", func(t *testing.T, e *env, b *browser) *http.Request {
			return loginWith(t, e, b, url.Values{"username": {strings.Repeat("u", 60<<10)}}, "")
		}},
		{"login: very long password", func(t *testing.T, e *env, b *browser) *http.Request {
			return loginWith(t, e, b, url.Values{"password": {strings.Repeat("p", 60<<10)}}, "")
		}},
		{"login: invalid UTF-8 username", func(t *testing.T, e *env, b *browser) *http.Request {
			return loginWith(t, e, b, url.Values{"username": {"\xff\xfealice"}}, "")
		}},
		{"login: username given twice", func(t *testing.T, e *env, b *browser) *http.Request {
			return loginWith(t, e, b, url.Values{"username": {"bob", "alice"}}, "")
		}},
		{"login: request_id given twice", func(t *testing.T, e *env, b *browser) *http.Request {
			return loginWith(t, e, b, nil, "&request_id=x")
		}},
		{"login: JSON body", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/login", "application/json", strings.NewReader(`{"username":"alice"}`))
		}},
		{"login: real form sent as text/plain", func(t *testing.T, e *env, b *browser) *http.Request {
			req := loginWith(t, e, b, nil, "")
			req.Header.Set("Content-Type", "text/plain")
			return req
		}},
		{"login: GET", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, e.issuer+"/login?request_id=x&username=alice&password=x", "", nil)
		}},

		// /token
		{"token: 1 MiB body", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader(bigForm(mib)))
		}},
		{"token: 1 MiB body without a length", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", formType, chunked{strings.NewReader(bigForm(mib))})
		}},
		{"token: 1000 parameters", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader(tokenForm+"&"+manyParams(url.Values{}, 1000)))
		}},
		{"token: invalid percent-encoding", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader(tokenForm+"&code=%zz%"))
		}},
		{"token: NUL in code", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader(tokenForm+"&code=%00abc"))
		}},
		{"token: very long code", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader(tokenForm+"&code="+strings.Repeat("c", 60<<10)))
		}},
		{"token: very long code_verifier", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader("grant_type=authorization_code&client_id=spa&code=abc&code_verifier="+strings.Repeat("v", 60<<10)))
		}},
		{"token: JSON body", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", "application/json", strings.NewReader(`{"grant_type":"authorization_code","client_id":"spa","code":"x"}`))
		}},
		{"token: no content type", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", "", strings.NewReader(tokenForm+"&code=x"))
		}},
		{"token: multipart body", func(t *testing.T, e *env, _ *browser) *http.Request {
			body := "--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nauthorization_code\r\n--b--\r\n"
			return newRequest(t, http.MethodPost, e.issuer+"/token", "multipart/form-data; boundary=b", strings.NewReader(body))
		}},
		{"token: GET with the parameters in the query", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodGet, e.issuer+"/token?"+tokenForm+"&code=x", "", nil)
		}},
		{"token: parameters in the query of a POST", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token?"+tokenForm+"&code=x", formType, strings.NewReader(""))
		}},
		{"token: malformed Basic credentials", func(t *testing.T, e *env, _ *browser) *http.Request {
			req := newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader(tokenForm+"&code=x"))
			req.Header.Set("Authorization", "Basic %%%not-base64")
			return req
		}},
		{"token: Basic credentials with bad percent-encoding and NUL", func(t *testing.T, e *env, _ *browser) *http.Request {
			req := newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader(tokenForm+"&code=x"))
			req.SetBasicAuth("backend%zz\x00", "%")
			return req
		}},
		{"token: 64 KiB Authorization header", func(t *testing.T, e *env, _ *browser) *http.Request {
			req := newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader(tokenForm+"&code=x"))
			req.SetBasicAuth("backend", strings.Repeat("s", 64<<10))
			return req
		}},
		{"token: unknown grant type", func(t *testing.T, e *env, _ *browser) *http.Request {
			return newRequest(t, http.MethodPost, e.issuer+"/token", formType, strings.NewReader("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&client_id=spa&assertion=x"))
		}},
	}
}

// TestHostileInput sends malformed requests to every endpoint of the real
// server. None may answer 500, panic, redirect anywhere unregistered or hand
// out a token (docs/security.md §10: bad input never yields a 500 or a panic).
func TestHostileInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{loginUnlimited: true})
	cases := hostileCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Stop at every redirect, even to the issuer, to see each Location.
			b := newBrowserFor(t, e.issuer, []string{e.issuer})
			req := tc.build(t, e, b)
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: no answer: %v", req.Method, req.URL.Path, err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
			p := page{status: resp.StatusCode, header: resp.Header, body: string(body)}
			if p.status >= 500 {
				t.Errorf("status %d: bad input must not be a server error\n%.500s", p.status, p.body)
			}
			if loc := p.location(); loc != "" && !redirectAllowed(loc) {
				t.Errorf("Location %q is not a registered redirect URI", loc)
			}
			if cookies := p.header.Values("Set-Cookie"); strings.Contains(strings.Join(cookies, ";"), "evil") {
				t.Errorf("a header was injected: Set-Cookie %q", cookies)
			}
			if q, err := url.Parse(p.location()); err == nil && q.Query().Get("code") != "" {
				t.Errorf("a malformed request yielded an authorization code: %s", p.location())
			}
			assertNoToken(t, tc.name, p)
			if req.URL.Path == "/token" && req.Method == http.MethodPost {
				// Whatever went wrong, a token endpoint answers RFC 6749
				// §5.2 JSON that is never cached: client libraries parse it.
				if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("/token answered %d with Content-Type %q, want an RFC 6749 §5.2 JSON error\n%.300s", p.status, ct, p.body)
				}
				if cc := p.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
					t.Errorf("/token answered %d with Cache-Control %q, want no-store", p.status, cc)
				}
			}
			if bytes.Contains(body, []byte("goroutine ")) || bytes.Contains(body, []byte(".go:")) {
				t.Errorf("the answer shows a stack trace or source location:\n%.500s", p.body)
			}
		})
	}
	t.Run("the server still works", func(t *testing.T) {
		e.mustToken(testContext(t), "spa", "alice")
	})
	e.assertNoPanic()
}

// redirectAllowed reports whether loc goes to a registered redirect URI (with
// its query) and nowhere else.
func redirectAllowed(loc string) bool {
	for _, r := range registeredRedirects {
		if loc == r || strings.HasPrefix(loc, r+"?") {
			return true
		}
	}
	return false
}
