package keystile

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Claims are the verified claims of an access token (RFC 9068 §2.2), as
// decoded from JSON: strings, bools, json.Number for numbers (exact, never
// rounded to float64), []any, map[string]any and nil.
type Claims map[string]any

// Subject returns the sub claim, or "" if it is absent or not a string.
func (c Claims) Subject() string {
	s, _ := c["sub"].(string)
	return s
}

// ClientID returns the client_id claim (RFC 9068 §2.2), or "".
func (c Claims) ClientID() string {
	s, _ := c["client_id"].(string)
	return s
}

// Scopes returns the items of the space-separated scope claim (RFC 9068
// §2.2.3, RFC 6749 §3.3), or nil.
func (c Claims) Scopes() []string {
	s, _ := c["scope"].(string)
	return strings.Fields(s)
}

// HasScope reports whether the scope claim holds scope as one whole item.
func (c Claims) HasScope(scope string) bool {
	s, _ := c["scope"].(string)
	return scope != "" && containsScope(s, scope)
}

// claimsKey is the context key of verified claims; unexported so that only
// Verifier.Middleware can set them.
type claimsKey struct{}

// contextWithClaims returns ctx carrying verified claims.
func contextWithClaims(ctx context.Context, c Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims that Verifier.Middleware verified for
// this request. ok is false if the request did not pass through it.
func ClaimsFromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok && c != nil
}

// RequireClaim returns middleware that lets a request through only if its
// verified access token has the claim name matching value. It must sit behind
// Verifier.Middleware; without verified claims it answers 401 invalid_token
// (it fails closed). A token without the claim gets 403 insufficient_scope
// (RFC 6750 §3.1), with scope="value" in the challenge when name is "scope".
//
// Matching is exact and type-aware (docs/security.md §7):
//   - the claim equals value: strings byte for byte, bools, and numbers
//     numerically whatever the Go type of value (1, int64(1), 1.0 and the
//     JSON 1e0 are equal), but never across types ("1" is not 1);
//   - or the claim is a JSON array with an element equal to value in that
//     sense (["a b"] does not contain "a");
//   - or name is "scope" and the claim is a space-separated list holding
//     value as one whole item (RFC 6749 §3.3).
//
// value must be a string, a bool or a finite number of a Go numeric type (or
// a json.Number); anything else is a programming error and panics when the
// middleware is built, not when a request arrives.
func RequireClaim(name string, value any) func(http.Handler) http.Handler {
	want, err := newClaimValue(value)
	if err != nil {
		panic(fmt.Sprintf("keystile: RequireClaim(%q): %v", name, err))
	}
	// The scope parameter of the challenge (RFC 6750 §3) is only set when it
	// is a syntactically valid scope token (validScopeToken, clients.go),
	// which can hold no quote or backslash.
	scopeParam := ""
	if s, ok := value.(string); ok && name == "scope" && validScopeToken(s) {
		scopeParam = s
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, ok := ClaimsFromContext(r.Context())
			if !ok {
				writeBearerError(w, http.StatusUnauthorized, codeInvalidToken, "a verified access token is required", "", "")
				return
			}
			if !claimMatches(name, claims[name], want) {
				writeBearerError(w, http.StatusForbidden, codeInsufficientScope, "the access token does not grant access to this resource", scopeParam, challengeExtra(r))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// claimValue is a scalar normalised for comparison: exactly one of str,
// boolean or num is meaningful, as kind says.
type claimValue struct {
	kind    byte // 's' string, 'b' bool, 'n' number
	str     string
	boolean bool
	num     string // canonical decimal, see canonicalNumber
}

func newClaimValue(v any) (claimValue, error) {
	switch x := v.(type) {
	case string:
		return claimValue{kind: 's', str: x}, nil
	case bool:
		return claimValue{kind: 'b', boolean: x}, nil
	}
	if n, ok := numberText(v); ok {
		if c, ok := canonicalNumber(n); ok {
			return claimValue{kind: 'n', num: c}, nil
		}
		return claimValue{}, fmt.Errorf("value %v is not a finite number", v)
	}
	return claimValue{}, fmt.Errorf("value of type %T cannot be matched; use a string, a bool or a number", v)
}

// claimMatches applies RequireClaim's rules to the claim's value got.
func claimMatches(name string, got any, want claimValue) bool {
	if scalarEqual(got, want) {
		return true
	}
	if arr, ok := got.([]any); ok {
		for _, el := range arr {
			if scalarEqual(el, want) {
				return true
			}
		}
		return false
	}
	if s, ok := got.(string); ok && name == "scope" && want.kind == 's' {
		return containsScope(s, want.str)
	}
	return false
}

func scalarEqual(got any, want claimValue) bool {
	switch want.kind {
	case 's':
		s, ok := got.(string)
		return ok && s == want.str
	case 'b':
		b, ok := got.(bool)
		return ok && b == want.boolean
	case 'n':
		n, ok := numberText(got)
		if !ok {
			return false
		}
		c, ok := canonicalNumber(n)
		return ok && c == want.num
	}
	return false
}

// containsScope reports whether the space-separated list holds item whole.
func containsScope(list, item string) bool {
	if item == "" {
		return false
	}
	for s := range strings.SplitSeq(list, " ") {
		if s == item {
			return true
		}
	}
	return false
}

// numberText returns the decimal text of a number of any Go numeric type,
// or of a json.Number. Floats use the shortest text that reads back as the
// same value, so float64(0.1) reads as the JSON number 0.1.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case int:
		return strconv.FormatInt(int64(x), 10), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case uintptr:
		return strconv.FormatUint(uint64(x), 10), true
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return "NaN", true // rejected by canonicalNumber
		}
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "NaN", true
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	}
	return "", false
}

// canonicalNumber rewrites a JSON number (RFC 8259 §6) as "[-]digits e exp"
// with no leading or trailing zeros in digits, so that two texts are equal
// exactly when the numbers are: "1", "1.0", "10e-1" and "0.1e1" all become
// "1e0". It works on the text, so it never rounds and a huge exponent costs
// nothing. ok is false for text that is not a JSON number.
func canonicalNumber(s string) (string, bool) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	intPart, s := leadingDigits(s)
	if intPart == "" || (len(intPart) > 1 && intPart[0] == '0') {
		return "", false
	}
	var frac string
	if strings.HasPrefix(s, ".") {
		frac, s = leadingDigits(s[1:])
		if frac == "" {
			return "", false
		}
	}
	var exp int64
	if s != "" {
		if s[0] != 'e' && s[0] != 'E' {
			return "", false
		}
		s = s[1:]
		sign := int64(1)
		if s != "" && (s[0] == '+' || s[0] == '-') {
			if s[0] == '-' {
				sign = -1
			}
			s = s[1:]
		}
		digits, rest := leadingDigits(s)
		if digits == "" || rest != "" {
			return "", false
		}
		e, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || e > math.MaxInt64/4 {
			return "", false // beyond any number worth comparing
		}
		exp = sign * e
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return "0", true // -0 equals 0
	}
	exp -= int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	out := trimmed + "e" + strconv.FormatInt(exp, 10)
	if neg {
		out = "-" + out
	}
	return out, true
}

func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}
