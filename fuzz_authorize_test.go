package keystile

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keystile/keystile/store/memory"
)

// FuzzAuthorize sends arbitrary query strings to /authorize through the real
// handler. Whatever arrives, the answer is never a server error and never a
// redirect anywhere but a registered redirect URI (docs/security.md §1, §2).
func FuzzAuthorize(f *testing.F) {
	valid := authorizeQuery()
	f.Add(valid.Encode())
	f.Add(valid.Encode() + "&client_id=spa")
	f.Add(valid.Encode() + "&redirect_uri=%zz")
	f.Add(strings.Replace(valid.Encode(), "S256", "plain", 1))
	f.Add("client_id=spa&redirect_uri=https%3A%2F%2Fspa.example.com%2Fcb%2F..%2Fevil")
	f.Add("client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fnative&response_type=token")
	f.Add("client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%40evil.com%2Fnative")
	f.Add(";;&&==%00")
	f.Add(valid.Encode() + "&resource=https%3A%2F%2Fapi.example.com")
	f.Add(valid.Encode() + "&resource=https%3A%2F%2Fapi.example.com%23f&resource=x")

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key, err := NewSigningKey(secret)
	if err != nil {
		f.Fatal(err)
	}
	clients := []Client{
		{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect, "http://127.0.0.1/native"}, Scopes: []string{"openid", "read"}, Resources: []string{"https://api.example.com"}},
	}
	srv, err := New(Config{
		Issuer:       "https://auth.example.com",
		Clients:      clients,
		Store:        memory.New(),
		Keys:         []SigningKey{key},
		ValidateUser: func(context.Context, string, string) (Identity, error) { return Identity{}, ErrInvalidCredentials },
		IDTokenKey:   sigTestRS(f),
		Resources:    []Resource{{ID: "https://api.example.com", Scopes: []string{"read"}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	spa, _ := srv.client("spa")

	f.Fuzz(func(t *testing.T, rawQuery string) {
		req := httptest.NewRequest(http.MethodGet, "https://auth.example.com/authorize", nil)
		req.URL.RawQuery = rawQuery
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		res := rr.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("query %q: status %d", rawQuery, res.StatusCode)
		}
		loc := res.Header.Get("Location")
		if loc == "" {
			return
		}
		target, _, _ := strings.Cut(loc, "?")
		if !spa.matchRedirectURI(target) {
			t.Fatalf("query %q redirected to %q, which is not registered", rawQuery, loc)
		}
	})
}

// FuzzMatchRedirectURI: a URI matches only if it is registered to the letter,
// or is a registered loopback IP URI with another port and nothing else
// changed (RFC 8252 §7.3).
func FuzzMatchRedirectURI(f *testing.F) {
	c := &Client{RedirectURIs: []string{"https://app.example.com/cb", "http://127.0.0.1/native?x=1", "http://[::1]:8080/cb"}}
	for _, s := range []string{"https://app.example.com/cb", "http://127.0.0.1:5/native?x=1", "http://[::1]:1/cb", "http://127.0.0.1:5@evil/native?x=1", "HTTP://127.0.0.1:5/native?x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		if !c.matchRedirectURI(uri) {
			return
		}
		for _, reg := range c.RedirectURIs {
			if uri == reg {
				return
			}
			if host, rest, ok := loopbackParts(reg); ok {
				if h2, rest2, ok2 := loopbackPartsAnyPort(uri); ok2 && h2 == host && rest2 == rest {
					return
				}
			}
		}
		t.Fatalf("%q matched, but it is neither registered nor a registered loopback URI with another port", uri)
	})
}

// loopbackParts splits "http://HOST[:PORT]REST" into HOST and REST.
func loopbackParts(u string) (host, rest string, ok bool) {
	s, found := strings.CutPrefix(u, "http://")
	if !found {
		return "", "", false
	}
	i := strings.IndexAny(s, "/?")
	if i < 0 {
		i = len(s)
	}
	authority, rest := s[:i], s[i:]
	if strings.HasPrefix(authority, "[") {
		end := strings.Index(authority, "]")
		if end < 0 {
			return "", "", false
		}
		return authority[:end+1], rest, true
	}
	host, _, _ = strings.Cut(authority, ":")
	return host, rest, true
}

// loopbackPartsAnyPort is loopbackParts for a URI that must carry a port of
// digits only.
func loopbackPartsAnyPort(u string) (host, rest string, ok bool) {
	host, rest, ok = loopbackParts(u)
	if !ok {
		return "", "", false
	}
	s := strings.TrimPrefix(u, "http://"+host)
	port, after, found := strings.Cut(s, rest)
	if !found || after != "" && rest == "" {
		return "", "", false
	}
	port, hasColon := strings.CutPrefix(port, ":")
	if !hasColon || port == "" || strings.Trim(port, "0123456789") != "" {
		return "", "", false
	}
	return host, rest, true
}
