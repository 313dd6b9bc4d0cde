package keystile

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// pendingLogin is a validated /authorize request waiting for the user to
// sign in. It is not stored: the login form carries it sealed (seal.go) as
// its request_id, so that a flood of unfinished sign-ins costs the server
// nothing to keep, and nobody can read or change what it holds. It is bound
// to the browser that opened the page (the hash of its binding cookie) and
// to the page (the hash of the form's CSRF token), as a stored request was;
// and it is single-use: a successful sign-in records its ID in the store
// until it expires (store.SignIns), so one form yields one code
// (docs/security.md §5).
type pendingLogin struct {
	ID          []byte   `json:"i"` // random; its hash is the single-use record's key
	BrowserHash []byte   `json:"b"` // SHA-256 of the browser-binding cookie value
	CSRFHash    []byte   `json:"x"` // SHA-256 of the form's CSRF token
	ClientID    string   `json:"c"`
	RedirectURI string   `json:"r"`
	State       []byte   `json:"s,omitempty"` // bytes: a client's state need not be UTF-8
	Challenge   string   `json:"p"`
	Nonce       []byte   `json:"n,omitempty"`
	Scope       []string `json:"o,omitempty"`
	Resources   []string `json:"a,omitempty"` // RFC 8707 resource indicators
	ExpiresAt   int64    `json:"e"`           // unix milliseconds
}

// maxSealedRequestLen bounds a request_id before it is decoded: a sealed
// request with every field at its limit (state 2 KiB, redirect URI 2000
// bytes, scope 2000, nonce 512, a client's resource URIs) stays well under it, and under the
// 64 KiB body limit.
const maxSealedRequestLen = 48 << 10

// sealPending returns the sealed form of p, bound to this issuer.
func (s *Server) sealPending(p pendingLogin) (string, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	return s.derived.seal(purposeLoginRequest, raw, []byte(s.cfg.Issuer))
}

// openPending returns the pending sign-in sealed in requestID, if this
// server (or a replica with its keys) sealed it for this issuer and it has
// not expired at now.
func (s *Server) openPending(requestID string, now time.Time) (pendingLogin, bool) {
	if requestID == "" || len(requestID) > maxSealedRequestLen {
		return pendingLogin{}, false
	}
	raw, ok := s.derived.open(purposeLoginRequest, requestID, []byte(s.cfg.Issuer))
	if !ok {
		return pendingLogin{}, false
	}
	var p pendingLogin
	if err := json.Unmarshal(raw, &p); err != nil || len(p.ID) == 0 || now.UnixMilli() >= p.ExpiresAt {
		return pendingLogin{}, false
	}
	return p, true
}

// usedKey is the store key of p's single-use record.
func (p pendingLogin) usedKey() []byte {
	return hashSecret("login-request:" + base64.RawURLEncoding.EncodeToString(p.ID))
}

func (p pendingLogin) expiresAt() time.Time { return time.UnixMilli(p.ExpiresAt) }
