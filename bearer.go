package keystile

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Middleware authenticates requests with a bearer access token taken from
// the Authorization header only (RFC 6750 §2.1; never the query or the body,
// which end up in logs and caches). A request without one gets 401 with a
// bare Bearer challenge (RFC 6750 §3.1); a bad token gets 401 with
// error="invalid_token" and a generic description. On success the claims are
// available to next through ClaimsFromContext.
//
// A verifier for a VerifierConfig.Resource adds resource_metadata to its
// challenges, and to RequireClaim's behind it (RFC 9728 §5.1), so that a
// client can find the authorization server from a 401 alone.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	extra := v.resource.challengeParam()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values("Authorization")
		if len(values) > 1 {
			writeBearerError(w, http.StatusBadRequest, codeInvalidRequest, msgOneAuthorization, "", extra)
			return
		}
		token, ok := bearerToken(values)
		if !ok {
			writeBearerChallenge(w, extra)
			return
		}
		claims, err := v.Verify(r.Context(), token)
		if err != nil {
			v.logRefusal(r, err)
			writeBearerError(w, http.StatusUnauthorized, codeInvalidToken, "the access token is invalid or expired", "", extra)
			return
		}
		ctx := contextWithClaims(r.Context(), claims)
		if extra != "" {
			ctx = context.WithValue(ctx, challengeKey{}, extra)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// logRefusal tells the operator why a token was refused, which the 401
// never tells the client: an expired token is routine (info), anything
// else — another audience or issuer, an unknown kid, a bad signature — is
// most often a misconfiguration (warn). The error text of Verify never
// holds the token. Lines past the budget are counted into the next one.
func (v *Verifier) logRefusal(r *http.Request, err error) {
	ok, held := v.logRate.take(v.now())
	if !ok {
		return
	}
	level := slog.LevelWarn
	if errors.Is(err, jwt.ErrTokenExpired) {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{
		slog.String("reason", strings.TrimPrefix(err.Error(), ErrInvalidToken.Error()+": ")),
		slog.String("path", r.URL.Path),
	}
	if held > 0 {
		attrs = append(attrs, slog.Int("suppressed", held))
	}
	v.log.LogAttrs(r.Context(), level, "access token refused", attrs...)
}

// challengeKey is the context key of the extra parameters of the challenges
// that RequireClaim sends behind Middleware.
type challengeKey struct{}

// challengeExtra returns what Middleware put under challengeKey, or "".
func challengeExtra(r *http.Request) string {
	s, _ := r.Context().Value(challengeKey{}).(string)
	return s
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 9110 §11.1). ok is false when there is
// no bearer credential at all; an empty token is returned as "" with ok true
// so that it is refused as an invalid token.
func bearerToken(values []string) (token string, ok bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// bearerRealm is the realm of every Bearer challenge (RFC 6750 §3).
const bearerRealm = `Bearer realm="keystile"`

// writeBearerChallenge answers a request that sent no bearer token: 401 and a
// challenge without an error code (RFC 6750 §3.1). extra is appended to the
// challenge: "" or a resource_metadata parameter (challengeParam).
func writeBearerChallenge(w http.ResponseWriter, extra string) {
	w.Header().Set("WWW-Authenticate", bearerRealm+extra)
	writeJSON(w, http.StatusUnauthorized, bearerJSON, map[string]string{
		"error":             codeNoCredentials,
		"error_description": "a bearer access token is required",
	})
}

// writeBearerError answers with an RFC 6750 §3.1 error. description and
// scope are fixed strings or validated scope tokens: neither may hold a
// double quote or a backslash, and none carries library error text. extra
// is as for writeBearerChallenge.
func writeBearerError(w http.ResponseWriter, status int, code, description, scope, extra string) {
	challenge := bearerRealm + `, error="` + code + `", error_description="` + description + `"`
	if scope != "" {
		challenge += `, scope="` + scope + `"`
	}
	challenge += extra
	w.Header().Set("WWW-Authenticate", challenge)
	writeJSON(w, status, bearerJSON, map[string]string{"error": code, "error_description": description})
}
