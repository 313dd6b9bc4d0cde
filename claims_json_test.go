package keystile

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keystile/keystile/password"
	"github.com/keystile/keystile/store/memory"
)

// accessTokenClaimsBefore is how access-token claims were built before
// accessTokenPayload: a jwt.MapClaims that json.Marshal wrote. The test
// below holds the new writer to it byte for byte.
func (s *Server) accessTokenClaimsBefore(g grant, now time.Time, jti string) jwt.MapClaims {
	claims := jwt.MapClaims{}
	for k, v := range s.accessClaims(g) {
		if !registeredClaims[k] {
			claims[k] = v
		}
	}
	claims["iss"] = s.cfg.Issuer
	claims["sub"] = g.subject
	claims["aud"] = s.audience(g)
	claims["client_id"] = g.client.ID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(s.cfg.AccessTokenTTL).Unix()
	claims["jti"] = jti
	if !g.authTime.IsZero() {
		claims["auth_time"] = g.authTime.Unix()
	}
	if scope := s.accessScope(g); len(scope) > 0 {
		claims["scope"] = strings.Join(scope, " ")
	}
	return claims
}

// payloadServer is a server with one service client, svc, allowed every
// resource given.
func payloadServer(t *testing.T, issuer string, resources []Resource) *Server {
	t.Helper()
	key, err := NewSigningKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range resources {
		ids = append(ids, r.ID)
	}
	srv, err := New(Config{
		Issuer: issuer,
		Clients: []Client{{ID: "svc", SecretHash: password.HashClientSecret(testClientSecret), GrantTypes: []string{GrantClientCredentials},
			Scopes: []string{"reports:read", "profile", "write"}, Resources: ids}},
		Resources:    resources,
		Store:        memory.New(),
		Keys:         []SigningKey{key},
		ValidateUser: func(context.Context, string, string) (Identity, error) { return Identity{}, ErrInvalidCredentials },
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestAccessTokenPayloadIsMapClaimsJSON: the claims of an access token are
// the bytes a jwt.MapClaims of the same claims marshals to, whatever the
// custom claims (names sorting among the registered ones, HTML characters,
// invalid UTF-8, nested values), with and without resources.
func TestAccessTokenPayloadIsMapClaimsJSON(t *testing.T) {
	const api = "https://api.example.com/"
	newServer := payloadServer
	custom := map[string]any{
		"a": 1, "aud_extra": "x", "b<&>": "<script>&amp;", "client_idz": []any{"p", 2.5, nil, true},
		"nested": map[string]any{"z": 1, "a": map[string]any{"ü": "\u2028"}}, "zz": json.Number("12345678901234567890"),
		"sub": "must-not-override", "scope": "no", "ümlaut": "ÿ", "big": int64(1) << 60, "bad\xffutf8": "\xff",
	}
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name      string
		issuer    string
		resources []Resource
		g         func(c *Client) grant
	}{
		{"service account", "https://auth.example.com", nil, func(c *Client) grant {
			return grant{client: c, subject: c.ID, scope: []string{"reports:read"}}
		}},
		{"no scope, given jti", "https://auth.example.com", nil, func(c *Client) grant {
			return grant{client: c, subject: "alice", jti: "fixed-jti"}
		}},
		{"user with custom claims", "https://auth.example.com/t<&>", nil, func(c *Client) grant {
			return grant{client: c, subject: "bob\"\\\n<", claims: custom, authTime: now.Add(-time.Minute), scope: []string{"profile", "write"}}
		}},
		{"resource token", "https://auth.example.com", []Resource{{ID: api, Scopes: []string{"write"}, Claims: []string{"a", "nested", "b<&>"}}}, func(c *Client) grant {
			return grant{client: c, subject: "carol", claims: custom, resource: api, scope: []string{"profile", "write"}}
		}},
		{"default audience beside resources", "https://auth.example.com", []Resource{{ID: api, Scopes: []string{"write"}, Claims: []string{"a"}}}, func(c *Client) grant {
			return grant{client: c, subject: "dave", claims: custom, scope: []string{"profile", "write"}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.issuer, tc.resources)
			c, _ := srv.client("svc")
			g := tc.g(c)
			got, err := srv.accessTokenPayload(nil, g, now)
			if err != nil {
				t.Fatal(err)
			}
			var decoded map[string]any
			if err := json.Unmarshal(got, &decoded); err != nil {
				t.Fatalf("payload is not JSON: %v\n%s", err, got)
			}
			jti, _ := decoded["jti"].(string)
			if g.jti != "" && jti != g.jti {
				t.Errorf("jti = %q, want %q", jti, g.jti)
			}
			if g.jti == "" && len(jti) != 22 {
				t.Errorf("random jti %q is not 22 characters", jti)
			}
			before := srv.accessTokenClaimsBefore(g, now, jti)
			want, err := json.Marshal(before)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("payload\n%s\nwant (MapClaims)\n%s", got, want)
			}
			// And the HS256 token, signed from the pooled HMAC state, is the
			// token the MapClaims signed through golang-jwt.
			tok, err := srv.signer().signAccessPayload(got)
			if err != nil {
				t.Fatal(err)
			}
			wantTok, err := srv.signer().signAccessToken(before)
			if err != nil {
				t.Fatal(err)
			}
			if tok != wantTok {
				t.Errorf("token\n%s\nwant\n%s", tok, wantTok)
			}
		})
	}
}

// An unencodable custom claim is an error, as it was for json.Marshal.
func TestAccessTokenPayloadUnencodable(t *testing.T) {
	srv := payloadServer(t, "https://auth.example.com", nil)
	c, _ := srv.client("svc")
	if _, err := srv.accessTokenPayload(nil, grant{client: c, subject: "x", claims: map[string]any{"f": func() {}}}, time.Now()); err == nil {
		t.Fatal("a func claim encoded")
	}
}

func TestNewTokenID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newTokenID()
		if len(id) != 22 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" || seen[id] {
			t.Fatalf("token id %q: wrong length, alphabet or repeated", id)
		}
		seen[id] = true
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\u2028\u2029", "\xff", "\"\\", "\x00\x7f", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}

// TestAppendJSONStringEveryByte: each byte, alone and inside a plain
// string, is written as encoding/json writes it (jsonPlain's table).
func TestAppendJSONStringEveryByte(t *testing.T) {
	for c := range 256 {
		for _, s := range []string{string([]byte{byte(c)}), "ab" + string([]byte{byte(c)}) + "cd"} {
			want, _ := json.Marshal(s)
			if got := appendJSONString(nil, s); string(got) != string(want) {
				t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
			}
		}
	}
}
