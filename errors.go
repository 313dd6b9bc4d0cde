package keystile

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

// OAuth 2 error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1).
const (
	ErrCodeInvalidRequest          = "invalid_request"
	ErrCodeInvalidClient           = "invalid_client"
	ErrCodeInvalidGrant            = "invalid_grant"
	ErrCodeUnauthorizedClient      = "unauthorized_client"
	ErrCodeUnsupportedGrantType    = "unsupported_grant_type"
	ErrCodeUnsupportedResponseType = "unsupported_response_type"
	ErrCodeInvalidScope            = "invalid_scope"
	ErrCodeAccessDenied            = "access_denied"
	ErrCodeServerError             = "server_error"
	ErrCodeInvalidToken            = "invalid_token"
	ErrCodeInsufficientScope       = "insufficient_scope"
)

// Error is an OAuth error: an RFC code and a description that is safe to show
// to the client. The cause, if any, is only logged.
type Error struct {
	Code        string
	Description string
	Status      int   // HTTP status for JSON answers; 400 when zero
	Cause       error // logged, never sent
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Description + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Cause }

func oauthError(code, description string) *Error {
	return &Error{Code: code, Description: description}
}

func serverError(cause error) *Error {
	return &Error{Code: ErrCodeServerError, Description: "the server could not complete the request", Status: http.StatusInternalServerError, Cause: cause}
}

// asOAuthError turns any error into an *Error, hiding what is not one.
func asOAuthError(err error) *Error {
	var e *Error
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
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	h := w.Header()
	if e.Code == ErrCodeInvalidClient && status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="keystile", charset="UTF-8"`)
	}
	writeJSON(w, status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// writeJSON sends v with the headers every token-endpoint answer needs
// (RFC 6749 §5.1): never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// redirectError sends the user agent back to a redirect URI that has already
// been validated for the client, with error, state and iss (RFC 9207).
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state string, err error) {
	e := asOAuthError(err)
	s.logError(r, e)
	q := url.Values{}
	q.Set("error", e.Code)
	if e.Description != "" {
		q.Set("error_description", e.Description)
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
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	s.renderError(w, status, errorView{Code: e.Code, Message: e.Description})
}

// logError logs server errors with their cause, and client errors at debug
// level; it logs the path only, never the query, which may carry codes.
func (s *Server) logError(r *http.Request, e *Error) {
	if e.Code == ErrCodeServerError {
		s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "error", e.Cause)
		return
	}
	s.log.DebugContext(r.Context(), "request refused", "path", r.URL.Path, "error", e.Code, "description", e.Description)
}

// writeJSONBody sends v as a 200 with the headers already set by the caller.
func writeJSONBody(w http.ResponseWriter, v any) {
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}
