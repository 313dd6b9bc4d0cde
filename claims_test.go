package keystile

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestRequireClaim(t *testing.T) {
	rs := sigTestRS(t)
	v := newTestVerifier(t, rs)

	const forbidden = `Bearer realm="keystile", error="insufficient_scope", error_description="the access token does not grant access to this resource"`
	tests := []struct {
		name     string
		claim    string
		value    any
		token    map[string]any // custom claims added to the token
		want     int
		wantAuth string // for 403; "" means the forbidden challenge above
	}{
		{"string equal", "role", "admin", map[string]any{"role": "admin"}, 200, ""},
		{"string differs", "role", "admin", map[string]any{"role": "user"}, 403, ""},
		{"string differs in case", "role", "admin", map[string]any{"role": "Admin"}, 403, ""},
		{"string is a prefix", "role", "admin", map[string]any{"role": "administrator"}, 403, ""},
		{"claim missing", "role", "admin", nil, 403, ""},
		{"claim null", "role", "admin", map[string]any{"role": nil}, 403, ""},
		{"array contains", "groups", "ops", map[string]any{"groups": []string{"dev", "ops"}}, 200, ""},
		{"array lacks", "groups", "ops", map[string]any{"groups": []string{"dev"}}, 403, ""},
		{"array element is not split", "groups", "a", map[string]any{"groups": []string{"a b"}}, 403, ""},
		{"nested array is not searched", "groups", "ops", map[string]any{"groups": []any{[]string{"ops"}}}, 403, ""},
		{"object is not searched", "groups", "ops", map[string]any{"groups": map[string]any{"ops": true}}, 403, ""},
		{"space list in a non-scope claim is one string", "roles", "admin", map[string]any{"roles": "user admin"}, 403, ""},
		{"scope item", "scope", "profile", nil, 200, ""},
		{"scope first item", "scope", "openid", nil, 200, ""},
		{"scope missing item", "scope", "write", nil, 403, `Bearer realm="keystile", error="insufficient_scope", error_description="the access token does not grant access to this resource", scope="write"`},
		{"scope part of an item", "scope", "read", map[string]any{"scope": "read:all"}, 403, `Bearer realm="keystile", error="insufficient_scope", error_description="the access token does not grant access to this resource", scope="read"`},
		{"scope two items as one value", "scope", "openid profile", nil, 200, ""},
		{"scope as an array", "scope", "write", map[string]any{"scope": []string{"read", "write"}}, 200, ""},
		{"bool true", "admin", true, map[string]any{"admin": true}, 200, ""},
		{"bool mismatch", "admin", true, map[string]any{"admin": false}, 403, ""},
		{"bool is not the string true", "admin", true, map[string]any{"admin": "true"}, 403, ""},
		{"string is not the bool true", "admin", "true", map[string]any{"admin": true}, 403, ""},
		{"int equals", "level", 3, map[string]any{"level": 3}, 200, ""},
		{"int64 equals", "level", int64(3), map[string]any{"level": 3}, 200, ""},
		{"uint8 equals", "level", uint8(3), map[string]any{"level": 3}, 200, ""},
		{"float64 equals an integer claim", "level", 3.0, map[string]any{"level": 3}, 200, ""},
		{"int equals 3.0 in JSON", "level", 3, map[string]any{"level": json.Number("3.0")}, 200, ""},
		{"int equals 3e0 in JSON", "level", 3, map[string]any{"level": json.Number("3e0")}, 200, ""},
		{"fraction equals", "ratio", 0.1, map[string]any{"ratio": json.Number("0.1")}, 200, ""},
		{"float32 fraction equals", "ratio", float32(0.1), map[string]any{"ratio": json.Number("0.1")}, 200, ""},
		{"number differs", "level", 3, map[string]any{"level": 4}, 403, ""},
		{"number is not the string", "level", 1, map[string]any{"level": "1"}, 403, ""},
		{"string is not the number", "level", "1", map[string]any{"level": 1}, 403, ""},
		{"number in an array", "levels", 2, map[string]any{"levels": []any{1, 2}}, 200, ""},
		{"string number in an array", "levels", 2, map[string]any{"levels": []any{"2"}}, 403, ""},
		{"bool is not 1", "flag", 1, map[string]any{"flag": true}, 403, ""},
		{"large integers compared exactly", "id", int64(9007199254740992), map[string]any{"id": json.Number("9007199254740993")}, 403, ""},
		{"large integers equal", "id", uint64(18446744073709551615), map[string]any{"id": json.Number("18446744073709551615")}, 200, ""},
		{"huge exponent is not equal", "level", 1, map[string]any{"level": json.Number("1e999999999999")}, 403, ""},
		{"registered claim sub", "sub", "alice", nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(v.Middleware(RequireClaim(tt.claim, tt.value)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}))))
			defer srv.Close()
			claims := sigTestClaims()
			for k, val := range tt.token {
				claims[k] = val
			}
			resp, err := http.DefaultClient.Do(bearerReq(srv.URL, "Bearer "+sigTestSign(t, rs, claims)))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tt.want, body)
			}
			if tt.want == 200 {
				if resp.Header.Get("WWW-Authenticate") != "" {
					t.Errorf("a challenge on success: %q", resp.Header.Get("WWW-Authenticate"))
				}
				return
			}
			wantAuth := tt.wantAuth
			if wantAuth == "" {
				wantAuth = forbidden
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != wantAuth {
				t.Errorf("WWW-Authenticate %q, want %q", got, wantAuth)
			}
			var e map[string]string
			if err := json.Unmarshal(body, &e); err != nil || e["error"] != "insufficient_scope" {
				t.Errorf("body %s, want a JSON insufficient_scope error", body)
			}
		})
	}
}

// TestRequireClaimFailsClosed: RequireClaim without a Verifier in front
// must not let anything through, however the request looks.
func TestRequireClaimFailsClosed(t *testing.T) {
	rs := sigTestRS(t)
	srv := httptest.NewServer(RequireClaim("role", "admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	tok := sigTestSign(t, rs, withClaims(func(c jwt.MapClaims) { c["role"] = "admin" }))
	for _, auth := range []string{"", "Bearer " + tok} {
		resp, err := http.DefaultClient.Do(bearerReq(srv.URL, auth))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("Authorization %.10q: status %d, WWW-Authenticate %q; want 401 invalid_token", auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestRequireClaimRefusesUnmatchableValues(t *testing.T) {
	tests := []struct {
		name  string
		value any
	}{
		{"nil", nil},
		{"slice", []string{"a"}},
		{"map", map[string]any{"a": 1}},
		{"NaN", math.NaN()},
		{"infinity", math.Inf(1)},
		{"bad json.Number", json.Number("1x")},
		{"struct", struct{}{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("RequireClaim accepted a value it cannot match")
				}
			}()
			RequireClaim("x", tt.value)
		})
	}
}

func TestScopeParameterOnlyForScopeTokens(t *testing.T) {
	// A value that is not a scope token never reaches the header, so it
	// cannot break the quoted-string.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r = r.WithContext(contextWithClaims(r.Context(), Claims{"scope": "read"}))
	RequireClaim("scope", `a"b`)(http.NotFoundHandler()).ServeHTTP(rec, r)
	got := rec.Result().Header.Get("WWW-Authenticate")
	if rec.Code != http.StatusForbidden || strings.Contains(got, "scope=") {
		t.Errorf("status %d, WWW-Authenticate %q; want 403 without a scope parameter", rec.Code, got)
	}
}

func TestCanonicalNumber(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means not a JSON number
	}{
		{"0", "0"},
		{"-0", "0"},
		{"0.000", "0"},
		{"0e5", "0"},
		{"1", "1e0"},
		{"1.0", "1e0"},
		{"10e-1", "1e0"},
		{"0.1e1", "1e0"},
		{"100", "1e2"},
		{"1E2", "1e2"},
		{"1e+2", "1e2"},
		{"-2.50", "-25e-1"},
		{"0.1", "1e-1"},
		{"123456789012345678901234567890", "12345678901234567890123456789e1"},
		{"", ""},
		{"-", ""},
		{"01", ""},
		{"1.", ""},
		{".5", ""},
		{"1e", ""},
		{"1e+", ""},
		{"+1", ""},
		{"1x", ""},
		{"NaN", ""},
		{"0x10", ""},
		{"1e99999999999999999999", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := canonicalNumber(tt.in)
			if (tt.want == "") == ok || got != tt.want {
				t.Errorf("canonicalNumber(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestClaimsHelpers(t *testing.T) {
	tests := []struct {
		name       string
		claims     Claims
		wantSub    string
		wantClient string
		wantScopes []string
		hasScope   string
		wantHas    bool
	}{
		{"full", Claims{"sub": "alice", "client_id": "spa", "scope": "openid  profile"}, "alice", "spa", []string{"openid", "profile"}, "profile", true},
		{"empty", Claims{}, "", "", nil, "openid", false},
		{"wrong types", Claims{"sub": 1, "client_id": true, "scope": []any{"openid"}}, "", "", nil, "openid", false},
		{"empty scope item", Claims{"scope": "a  b"}, "", "", []string{"a", "b"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.claims.Subject(); got != tt.wantSub {
				t.Errorf("Subject() = %q", got)
			}
			if got := tt.claims.ClientID(); got != tt.wantClient {
				t.Errorf("ClientID() = %q", got)
			}
			if got := tt.claims.Scopes(); !slices.Equal(got, tt.wantScopes) {
				t.Errorf("Scopes() = %q", got)
			}
			if got := tt.claims.HasScope(tt.hasScope); got != tt.wantHas {
				t.Errorf("HasScope(%q) = %v", tt.hasScope, got)
			}
		})
	}
}

func TestClaimsFromContextWithoutMiddleware(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if c, ok := ClaimsFromContext(r.Context()); ok || c != nil {
		t.Errorf("ClaimsFromContext = %v, %v; want nothing", c, ok)
	}
}
