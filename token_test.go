package keystile

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// tokenAnswer is a decoded /token response, success or error.
type tokenAnswer struct {
	status       int
	header       http.Header
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

func (e *testEnv) token(form url.Values, header http.Header) tokenAnswer {
	e.t.Helper()
	resp, body := e.postForm(http.DefaultClient, "/token", form, header)
	var a tokenAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		e.t.Fatalf("/token answered status %d with non-JSON %q", resp.StatusCode, body)
	}
	a.status, a.header = resp.StatusCode, resp.Header
	return a
}

// spaCode runs a login for the spa client and returns a fresh code.
func (e *testEnv) spaCode() string {
	return e.login(e.browser(), authorizeQuery()).Query().Get("code")
}

func exchangeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {spaRedirect}, "client_id": {"spa"}, "code_verifier": {rfcVerifier}}
}

func TestTokenExchange(t *testing.T) {
	e := newTestEnv(t)
	a := e.token(exchangeForm(e.spaCode()), nil)
	if a.status != http.StatusOK || a.AccessToken == "" || a.TokenType != "Bearer" || a.ExpiresIn != 900 || a.Scope != "openid read" {
		t.Fatalf("token response %+v", a)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", a.header.Get("Cache-Control"))
	}
	claims, err := e.srv.Verifier().Verify(t.Context(), a.AccessToken)
	if err != nil {
		t.Fatalf("the server's own verifier refused its token: %v", err)
	}
	want := map[string]any{"iss": e.issuer, "sub": "alice", "aud": e.issuer, "client_id": "spa", "scope": "openid read", "role": "admin"}
	for k, v := range want {
		got := claims[k]
		if arr, ok := got.([]any); ok && len(arr) == 1 { // aud may be an array
			got = arr[0]
		}
		if got != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	for _, k := range []string{"exp", "iat", "jti"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(a.AccessToken, ".")[0])
	var h map[string]any
	_ = json.Unmarshal(header, &h)
	if h["typ"] != "at+jwt" || h["kid"] == "" || h["kid"] == nil {
		t.Errorf("JWT header %v, want typ at+jwt and a kid (RFC 9068 §2.1)", h)
	}
}

func TestTokenErrors(t *testing.T) {
	e := newTestEnv(t)
	basic := func(id, secret string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
	}
	backendCode := func() string {
		q := authorizeQuery()
		q.Set("client_id", "backend")
		q.Set("redirect_uri", backendRedirect)
		q.Del("scope")
		return e.login(e.browser(), q).Query().Get("code")
	}
	backendForm := func(code string) url.Values {
		f := exchangeForm(code)
		f.Set("redirect_uri", backendRedirect)
		f.Del("client_id")
		return f
	}
	tests := []struct {
		name       string
		form       func() url.Values
		header     http.Header
		wantStatus int
		wantError  string
	}{
		{"wrong verifier", func() url.Values {
			f := exchangeForm(e.spaCode())
			f.Set("code_verifier", strings.Repeat("a", 43))
			return f
		}, nil, 400, "invalid_grant"},
		{"missing verifier", func() url.Values { f := exchangeForm(e.spaCode()); f.Del("code_verifier"); return f }, nil, 400, "invalid_grant"},
		{"malformed verifier", func() url.Values { f := exchangeForm(e.spaCode()); f.Set("code_verifier", "short"); return f }, nil, 400, "invalid_grant"},
		{"challenge sent as verifier (plain)", func() url.Values { f := exchangeForm(e.spaCode()); f.Set("code_verifier", rfcChallenge); return f }, nil, 400, "invalid_grant"},
		{"wrong redirect_uri", func() url.Values {
			f := exchangeForm(e.spaCode())
			f.Set("redirect_uri", "http://127.0.0.1/native")
			return f
		}, nil, 400, "invalid_grant"},
		{"missing redirect_uri", func() url.Values { f := exchangeForm(e.spaCode()); f.Del("redirect_uri"); return f }, nil, 400, "invalid_grant"},
		{"unknown code", func() url.Values { return exchangeForm(newSecret()) }, nil, 400, "invalid_grant"},
		{"huge code", func() url.Values { return exchangeForm(strings.Repeat("c", 10000)) }, nil, 400, "invalid_grant"},
		{"missing code", func() url.Values { f := exchangeForm(""); return f }, nil, 400, "invalid_request"},
		{"code of another client", func() url.Values {
			return backendForm(e.spaCode())
		}, basic("backend", testClientSecret), 400, "invalid_grant"},
		{"missing grant_type", func() url.Values { f := exchangeForm(e.spaCode()); f.Del("grant_type"); return f }, nil, 400, "invalid_request"},
		{"password grant", func() url.Values { f := exchangeForm(e.spaCode()); f.Set("grant_type", "password"); return f }, nil, 400, "unsupported_grant_type"},
		{"repeated code", func() url.Values { c := e.spaCode(); f := exchangeForm(c); f.Add("code", c); return f }, nil, 400, "invalid_request"},
		{"repeated verifier", func() url.Values { f := exchangeForm(e.spaCode()); f.Add("code_verifier", rfcVerifier); return f }, nil, 400, "invalid_request"},
		{"unknown client", func() url.Values { f := exchangeForm(e.spaCode()); f.Set("client_id", "nobody"); return f }, nil, 401, "invalid_client"},
		{"no client at all", func() url.Values { f := exchangeForm(e.spaCode()); f.Del("client_id"); return f }, nil, 401, "invalid_client"},
		{"public client with a secret", func() url.Values { f := exchangeForm(e.spaCode()); f.Set("client_secret", "x"); return f }, nil, 401, "invalid_client"},
		{"confidential client without secret", func() url.Values { f := backendForm(backendCode()); f.Set("client_id", "backend"); return f }, nil, 401, "invalid_client"},
		{"confidential client, wrong secret (basic)", func() url.Values { return backendForm(backendCode()) }, basic("backend", "wrong"), 401, "invalid_client"},
		{"confidential client, wrong secret (post)", func() url.Values {
			f := backendForm(backendCode())
			f.Set("client_id", "backend")
			f.Set("client_secret", "wrong")
			return f
		}, nil, 401, "invalid_client"},
		{"two authentication methods", func() url.Values {
			f := backendForm(backendCode())
			f.Set("client_secret", testClientSecret)
			return f
		}, basic("backend", testClientSecret), 400, "invalid_request"},
		{"malformed basic header", func() url.Values { return backendForm(backendCode()) }, http.Header{"Authorization": {"Basic !!!"}}, 401, "invalid_client"},
		// An empty first header hid a good second one, which was never read.
		{"two Authorization headers", func() url.Values { return backendForm(backendCode()) },
			http.Header{"Authorization": {"", basic("backend", testClientSecret).Get("Authorization")}}, 400, "invalid_request"},
		{"two Authorization headers, both good", func() url.Values { return backendForm(backendCode()) },
			http.Header{"Authorization": {basic("backend", testClientSecret).Get("Authorization"), basic("backend", testClientSecret).Get("Authorization")}}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.token(tt.form(), tt.header)
			if a.status != tt.wantStatus || a.Error != tt.wantError || a.AccessToken != "" {
				t.Fatalf("got status %d error %q token %q, want %d %q and no token", a.status, a.Error, a.AccessToken, tt.wantStatus, tt.wantError)
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", a.header.Get("Cache-Control"))
			}
			if a.status == 401 && a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	t.Run("confidential client succeeds with basic and post", func(t *testing.T) {
		if a := e.token(backendForm(backendCode()), basic("backend", testClientSecret)); a.status != 200 || a.AccessToken == "" {
			t.Fatalf("basic: %+v", a)
		}
		f := backendForm(backendCode())
		f.Set("client_id", "backend")
		f.Set("client_secret", testClientSecret)
		if a := e.token(f, nil); a.status != 200 || a.AccessToken == "" {
			t.Fatalf("post: %+v", a)
		}
	})
}

func TestTokenCodeIsBurnt(t *testing.T) {
	e := newTestEnv(t)
	t.Run("after a wrong verifier", func(t *testing.T) {
		code := e.spaCode()
		f := exchangeForm(code)
		f.Set("code_verifier", strings.Repeat("b", 43))
		if a := e.token(f, nil); a.Error != "invalid_grant" {
			t.Fatalf("wrong verifier: %+v", a)
		}
		if a := e.token(exchangeForm(code), nil); a.Error != "invalid_grant" || a.AccessToken != "" {
			t.Fatalf("the right verifier after a wrong one still got %+v; the code must be burnt", a)
		}
	})
	t.Run("reuse", func(t *testing.T) {
		code := e.spaCode()
		if a := e.token(exchangeForm(code), nil); a.status != 200 {
			t.Fatalf("first redemption: %+v", a)
		}
		if a := e.token(exchangeForm(code), nil); a.Error != "invalid_grant" {
			t.Fatalf("second redemption: %+v", a)
		}
	})
	t.Run("expired", func(t *testing.T) {
		code := e.spaCode()
		e.clock.Advance(e.srv.cfg.CodeTTL + 1)
		defer e.clock.Advance(-e.srv.cfg.CodeTTL - 1)
		if a := e.token(exchangeForm(code), nil); a.Error != "invalid_grant" {
			t.Fatalf("expired code: %+v", a)
		}
	})
	t.Run("concurrent redemptions: exactly one wins", func(t *testing.T) {
		e.raceExactlyOneWins(t, exchangeForm(e.spaCode()), 16)
	})
}

// raceExactlyOneWins posts form to /token from n goroutines released at
// once: exactly one must get a token, every other invalid_grant.
func (e *testEnv) raceExactlyOneWins(t *testing.T, form url.Values, n int) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]tokenAnswer, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.PostForm(e.issuer+"/token", form)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			_ = json.NewDecoder(resp.Body).Decode(&results[i])
			results[i].status = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, r := range results {
		if r.AccessToken != "" {
			wins++
		} else if r.Error != "invalid_grant" {
			t.Errorf("a losing request answered %+v, want invalid_grant", r)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent requests won, want exactly 1", wins, n)
	}
}

func TestTokenRequestShape(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		query       string
		wantStatus  int
	}{
		{"GET", http.MethodGet, "", "", "", http.StatusMethodNotAllowed},
		{"JSON body", http.MethodPost, "application/json", `{"grant_type":"authorization_code"}`, "", 400},
		{"no content type", http.MethodPost, "", "grant_type=authorization_code", "", 400},
		// Parameters in the URL query and none in the body: the request
		// gets told where they belong, not invalid_client (issue 8, item 9).
		{"parameters in the query only", http.MethodPost, "application/x-www-form-urlencoded", "", "grant_type=authorization_code&client_id=spa", 400},
		{"parameters in the query, no content type", http.MethodPost, "", "", "grant_type=client_credentials", 400},
		{"bad percent-encoding", http.MethodPost, "application/x-www-form-urlencoded", "grant_type=%zz", "", 400},
		{"too many parameters", http.MethodPost, "application/x-www-form-urlencoded", strings.Repeat("a=b&", 1000), "", 400},
		{"oversized body", http.MethodPost, "application/x-www-form-urlencoded", "x=" + strings.Repeat("a", 1<<20), "", 413},
		{"NUL bytes", http.MethodPost, "application/x-www-form-urlencoded", "grant_type=authorization_code%00&client_id=spa%00", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.issuer+"/token?"+tt.query, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if strings.Contains(body, "access_token") {
				t.Fatal("a token was issued")
			}
			if tt.query != "" && !strings.Contains(body, `"invalid_request"`) || tt.query != "" && !strings.Contains(body, "body") {
				t.Errorf("parameters in the query: %s, want invalid_request saying they belong in the body", body)
			}
		})
	}
}

// TestQueryParametersBelongInTheBody: /revoke and /introspect read their
// form like /token, and say so to a request that put it in the URL.
func TestQueryParametersBelongInTheBody(t *testing.T) {
	e := newTestEnv(t)
	for _, path := range []string{"/token", "/revoke", "/introspect"} {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+path+"?token=x&grant_type=client_credentials", nil)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", testClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"invalid_request"`) || !strings.Contains(body, "body") {
			t.Errorf("%s with its parameters in the query: status %d %s, want 400 invalid_request naming the body", path, resp.StatusCode, body)
		}
	}
}

// FuzzParseTokenForm checks that the token-request parser never panics and
// never returns a parameter that was given more than once.
func FuzzParseTokenForm(f *testing.F) {
	f.Add("grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fa%2Fcb&code_verifier=" + rfcVerifier)
	f.Add("code=a&code=b")
	f.Add("%zz")
	f.Add("a=b;c=d")
	f.Add("&&&=&=")
	f.Add(strings.Repeat("a=b&", 70))
	f.Fuzz(func(t *testing.T, body string) {
		p, _, err := parseTokenForm(body)
		if err != nil {
			if _, ok := err.(*oauthErr); !ok {
				t.Fatalf("error of type %T, want *oauthErr", err)
			}
			return
		}
		values, qerr := url.ParseQuery(body)
		if qerr != nil {
			t.Fatalf("accepted %q, which url.ParseQuery refuses", body)
		}
		for k, v := range p {
			if len(values[k]) != 1 || values[k][0] != v {
				t.Fatalf("parameter %q = %q, but the body has %q", k, v, values[k])
			}
		}
	})
}
