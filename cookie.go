package keystile

import (
	"crypto/sha256"
	"encoding/base64"
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

// The forms whose CSRF token is derived from a cookie, each with its own
// prefix so that one form's token never passes at the other. The values are
// the ones tokens have always been made with: a page opened before an
// upgrade still posts.
const (
	deviceForm = "keystile-device-csrf:" // /device, from the browser-binding cookie
	logoutForm = "keystile-logout-csrf:" // /logout, from the session cookie
)

// cookieCSRF derives a form's CSRF token from an HttpOnly cookie that only
// this browser holds: a page elsewhere can neither read the cookie nor
// compute the token, and the server keeps nothing per form.
func cookieCSRF(form, cookie string) string {
	sum := sha256.Sum256([]byte(form + cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// postedCSRF reports whether the posted csrf_token is cookieCSRF's for this
// form and cookie, compared in constant time; a missing one never is.
func postedCSRF(p params, form, cookie string) bool {
	return equalHash([]byte(p["csrf_token"]), []byte(cookieCSRF(form, cookie)))
}
