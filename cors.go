package keystile

import (
	"net/http"
	"slices"

	"github.com/go-chi/cors"
)

// CORS (the Fetch standard, "CORS protocol") lets a single-page app on
// another origin call the endpoints a browser client needs: /token,
// /device_authorization, /userinfo and /revoke, for the origins that clients registered in
// Client.AllowedOrigins, and the JWKS and discovery documents, which are
// public. /authorize, /login and /logout are navigations, never fetches:
// they get no CORS headers at all, so no page elsewhere can read them.
//
// Tokens travel in the request body or the Authorization header, never in
// cookies, so no endpoint allows credentials: a fetch with
// credentials: "include" is refused by the browser, and cookies set by the
// login form can never be ridden by a cross-origin script.

// corsMaxAge is how long, in seconds, a browser may cache a preflight answer
// (Chromium caps it at 7200). Ten minutes keeps a changed client
// registration from lingering in browsers for long.
const corsMaxAge = 600

// clientCORS returns the CORS middleware for an endpoint that browser
// clients call with the given methods. An origin is allowed when some
// client registered it, by exact string comparison: no wildcards, no case
// folding, and never the "null" origin of sandboxed frames and file: pages
// (ValidateClient refuses it at registration, so it is in no list).
// Which client may use which origin is checked per request by
// checkOrigin, since a preflight carries no client_id.
func (s *Server) clientCORS(methods ...string) func(http.Handler) http.Handler {
	// The set is read per request: SetClients may change it while the
	// server runs.
	allowed := func(origin string) bool { return s.clients.Load().origins[origin] }
	return cors.Handler(cors.Options{
		// AllowOriginFunc instead of AllowedOrigins: the library lower-cases
		// its list and accepts "*" patterns; registered origins are compared
		// to the letter, like redirect URIs (docs/security.md §1).
		AllowOriginFunc: func(_ *http.Request, origin string) bool { return allowed(origin) },
		AllowedMethods:  methods,
		AllowedHeaders:  []string{"Authorization", "Content-Type"},
		// A /userinfo 401 explains itself in WWW-Authenticate (RFC 6750 §3).
		ExposedHeaders:   []string{"WWW-Authenticate"},
		AllowCredentials: false,
		MaxAge:           corsMaxAge,
	})
}

// publicCORS is the CORS middleware of the documents anyone may read: the
// JWKS and the discovery metadata. They are the same for every caller and
// carry no secret, so any origin may GET them, without credentials.
var publicCORS = cors.Handler(cors.Options{
	AllowedOrigins:   []string{"*"},
	AllowedMethods:   []string{http.MethodGet},
	AllowCredentials: false,
	MaxAge:           corsMaxAge,
})

// preflightOnly is the handler of the OPTIONS routes of CORS endpoints. The
// CORS middleware answers real preflights itself; this answers the rest
// (an OPTIONS without Access-Control-Request-Method) with the allowed
// methods, and gives chi a route for OPTIONS, without which it would answer
// 405 before the middleware ran.
func preflightOnly(methods ...string) http.HandlerFunc {
	allow := "OPTIONS"
	for _, m := range methods {
		allow += ", " + m
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		w.WriteHeader(http.StatusNoContent)
	}
}

// checkOrigin refuses a browser request to /token or /revoke that comes from
// an origin the client it names (id) did not register, before anything is
// redeemed or revoked. CORS alone cannot do this: a form-encoded POST is a
// "simple" request that the browser sends without a preflight, so the
// server would redeem the code and only the reading of the answer would be
// blocked; and an origin registered by one client would otherwise be able to
// use every other public client.
//
// The answer is invalid_client (RFC 6749 §5.2): for a browser client, the
// origin is part of who it is. A request with no Origin (a server, a native
// app, a curl) and a same-origin request (an app served from the issuer's
// own origin, which needs no CORS) are not checked; neither is a request
// whose client cannot be identified, which the endpoint itself refuses.
func (s *Server) checkOrigin(r *http.Request, id string) error {
	origins, sent := r.Header["Origin"]
	if !sent || (len(origins) == 1 && origins[0] == s.issuer.Scheme+"://"+s.issuer.Host) {
		return nil
	}
	c, known := s.client(id)
	if id == "" || !known {
		return nil
	}
	if len(origins) != 1 || !slices.Contains(c.AllowedOrigins, origins[0]) {
		return oauthError(codeInvalidClient, "this client may not be used from this web origin").withStatus(http.StatusUnauthorized)
	}
	return nil
}
