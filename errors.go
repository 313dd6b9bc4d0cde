package keystile

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// OAuth 2 error codes, as the protocol spells them (RFC 6749 §4.1.2.1 and
// §5.2, RFC 6750 §3.1, OIDC Core §3.1.2.6). Every code Keystile sends is
// one of these, so that a typo cannot invent a code no client knows.
const (
	codeInvalidRequest          = "invalid_request"
	codeInvalidClient           = "invalid_client"
	codeInvalidGrant            = "invalid_grant"
	codeUnauthorizedClient      = "unauthorized_client"
	codeUnsupportedGrantType    = "unsupported_grant_type"
	codeUnsupportedResponseType = "unsupported_response_type"
	codeInvalidScope            = "invalid_scope"
	codeAccessDenied            = "access_denied"
	codeServerError             = "server_error"
	codeTemporarilyUnavailable  = "temporarily_unavailable"
	codeInvalidToken            = "invalid_token"
	codeInsufficientScope       = "insufficient_scope"
	codeLoginRequired           = "login_required"
	codeRequestNotSupported     = "request_not_supported"
	codeRequestURINotSupported  = "request_uri_not_supported"
	codeAuthorizationPending    = "authorization_pending" // RFC 8628 §3.5
	codeSlowDown                = "slow_down"
	codeExpiredToken            = "expired_token"
	// codeNoCredentials is not an RFC code: RFC 6750 §3.1 gives a request
	// that sent no token a challenge without one, and the JSON body that
	// goes with it still needs an error member.
	codeNoCredentials = "unauthorized"
)

// oauthErr is an OAuth error: an RFC code and a description that is safe to
// show to the client. The cause, if any, is only logged. Build one with
// oauthError or serverError; the with methods return changed copies, so that
// package-level errors stay shared and unchanged.
type oauthErr struct {
	code        string
	description string
	status      int    // HTTP status for JSON answers and pages; 400 when zero
	title       string // heading of the error page; by code when empty (pages.go)
	cause       error  // logged, never sent
	retryAfter  int    // seconds for a Retry-After header; none when zero
}

func (e *oauthErr) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.description + ": " + e.cause.Error()
	}
	return e.code + ": " + e.description
}

func (e *oauthErr) Unwrap() error { return e.cause }

func oauthError(code, description string) *oauthErr {
	return &oauthErr{code: code, description: description}
}

func serverError(cause error) *oauthErr {
	return oauthError(codeServerError, "the server could not complete the request").withStatus(http.StatusInternalServerError).withCause(cause)
}

// withStatus returns a copy of e answered with status instead of 400.
func (e *oauthErr) withStatus(status int) *oauthErr {
	c := *e
	c.status = status
	return &c
}

// withTitle returns a copy of e whose error page has the heading title: the
// code alone cannot tell an unknown application from a malformed link.
func (e *oauthErr) withTitle(title string) *oauthErr {
	c := *e
	c.title = title
	return &c
}

// withRetryAfter returns a copy of e answered with a Retry-After header of
// d, rounded up to whole seconds (RFC 9110 §10.2.3).
func (e *oauthErr) withRetryAfter(d time.Duration) *oauthErr {
	c := *e
	c.retryAfter = retryAfterSeconds(d)
	return &c
}

// retryAfterSeconds is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// withCause returns a copy of e that logs cause.
func (e *oauthErr) withCause(cause error) *oauthErr {
	c := *e
	c.cause = cause
	return &c
}

// httpStatus is the status e is answered with.
func (e *oauthErr) httpStatus() int {
	if e.status == 0 {
		return http.StatusBadRequest
	}
	return e.status
}

// asOAuthError turns any error into an *oauthErr, hiding what is not one.
func asOAuthError(err error) *oauthErr {
	var e *oauthErr
	if errors.As(err, &e) {
		return e
	}
	return serverError(err)
}

// writeJSONError answers an endpoint that speaks JSON (/token) with an RFC
// 6749 §5.2 error body. invalid_client gets 401 and a WWW-Authenticate
// challenge when the client tried HTTP Basic.
func (s *Server) writeJSONError(w http.ResponseWriter, r *http.Request, err error) {
	e := asOAuthError(err)
	s.logError(r, e)
	status := e.httpStatus()
	if e.code == codeInvalidClient && status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="keystile", charset="UTF-8"`)
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, status, noStoreJSON, map[string]string{"error": e.code, "error_description": e.description})
}

// redirectError sends the user agent back to a redirect URI that has already
// been validated for the client, with error, state and iss (RFC 9207).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state string, err error) {
	e := asOAuthError(err)
	s.logError(r, e)
	q := url.Values{}
	q.Set("error", e.code)
	if e.description != "" {
		q.Set("error_description", e.description)
	}
	s.redirectWith(w, r, redirectURI, state, q)
}

// redirectWith appends q, state and iss to the validated redirectURI and
// answers 303, which turns a POST into a GET (RFC 9700 §4.11).
func (s *Server) redirectWith(w http.ResponseWriter, r *http.Request, redirectURI, state string, q url.Values) {
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", s.cfg.Issuer)
	u, err := url.Parse(redirectURI)
	if err != nil { // cannot happen: redirectURI matched a registered URI
		s.errorPage(w, r, serverError(err))
		return
	}
	existing := u.Query()
	for k, vs := range q {
		existing[k] = vs
	}
	u.RawQuery = existing.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// errorPage shows the user an error page; used whenever the client or its
// redirect URI cannot be trusted, so nothing is ever redirected.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	e := asOAuthError(err)
	s.logError(r, e)
	s.renderError(w, e.httpStatus(), errorView{Code: e.code, Message: e.description, Title: e.title})
}

// logError logs server errors with their cause, and client errors at debug
// level; it logs the path only, never the query, which may carry codes.
func (s *Server) logError(r *http.Request, e *oauthErr) {
	if e.code == codeServerError {
		s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "error", e.cause)
		return
	}
	s.log.DebugContext(r.Context(), "request refused", "path", r.URL.Path, "error", e.code, "description", e.description)
}
