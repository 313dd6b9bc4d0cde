package keystile

import (
	"net/http"
)

// browserCookieName names the cookie that binds pending sign-ins to the
// browser that started them. On https issuers it carries the __Host- prefix,
// which the browser only accepts with Secure, Path=/ and no Domain, so that
// no sibling subdomain can plant or overwrite it.
func (s *Server) browserCookieName() string {
	if s.secure {
		return "__Host-keystile_browser"
	}
	return "keystile_browser"
}

// browserID returns this browser's binding value, setting a new cookie when
// the browser has none (or a malformed one). The value is a random secret;
// the store keeps only its hash.
func (s *Server) browserID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.browserCookieName()); err == nil && validCookieSecret(c.Value) {
		return c.Value
	}
	v := newSecret()
	http.SetCookie(w, &http.Cookie{
		Name:     s.browserCookieName(),
		Value:    v,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secure,
		// Lax: the login form posts to our own origin, and the cookie is never
		// needed on a cross-site request.
		SameSite: http.SameSiteLaxMode,
	})
	return v
}

// validCookieSecret accepts what newSecret makes: 43 base64url characters.
func validCookieSecret(v string) bool {
	if len(v) != 43 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isUnreserved(v[i]) || v[i] == '.' || v[i] == '~' {
			return false
		}
	}
	return true
}
