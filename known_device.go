package keystile

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"time"
)

// A known device is a browser that signed in to an account before. At each
// successful sign-in Keystile sets a cookie that says so, signed with a
// server key (HMAC-SHA-256 under a key derived from the signing key,
// seal.go): the account it was earned for (bound into the MAC, not
// written in the cookie), a random device id, and an expiry. With it, that
// browser's failed sign-ins to that account count against a budget of its
// own (account and device), not against the account's shared one nor its
// address's: an attacker who hammers an account from anywhere else does
// not lock its owner out of their usual browser (docs/security.md §5). An
// attacker cannot make the cookie for someone else's account without
// signing in to it, and one who steals it gets that one device's budget.
//
// One browser holds one such cookie, for the account that signed in last.

// deviceIDLen is the size of the random device id.
const deviceIDLen = 16

// knownDeviceCookieName names the cookie; __Host- on https issuers, like
// the others (cookie.go).
func (s *Server) knownDeviceCookieName() string {
	if s.secure {
		return "__Host-keystile_device"
	}
	return "keystile_device"
}

// accountKey is how the throttle and the known-device cookie name the
// account a sign-in is for: the username as typed, case-folded.
func accountKey(username string) string { return strings.ToLower(username) }

// deviceMessage is what the MAC of a known-device cookie for account
// covers: its expiry and device id, the issuer and the account.
func (s *Server) deviceMessage(expiry []byte, id []byte, account string) []byte {
	msg := make([]byte, 0, len(expiry)+len(id)+len(s.cfg.Issuer)+len(account)+2)
	msg = append(msg, expiry...)
	msg = append(msg, id...)
	msg = append(msg, s.cfg.Issuer...)
	msg = append(msg, 0)
	return append(msg, account...)
}

// knownDevice returns the device id of the browser's known-device cookie
// if it is valid for account at now.
func (s *Server) knownDevice(r *http.Request, account string, now time.Time) (string, bool) {
	if s.cfg.LoginThrottle.KnownDeviceTTL < 0 {
		return "", false
	}
	c, err := r.Cookie(s.knownDeviceCookieName())
	if err != nil || len(c.Value) > 128 {
		return "", false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(c.Value)
	if err != nil || len(raw) != 8+deviceIDLen+32 {
		return "", false
	}
	expiry, id, tag := raw[:8], raw[8:8+deviceIDLen], raw[8+deviceIDLen:]
	if !s.derived.verifyMAC(purposeKnownDevice, s.deviceMessage(expiry, id, account), tag) {
		return "", false
	}
	if now.Unix() >= int64(binary.BigEndian.Uint64(expiry)) {
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(id), true
}

// setKnownDevice makes this browser a known device of account after a
// successful sign-in, keeping its device id if it had one for account.
func (s *Server) setKnownDevice(w http.ResponseWriter, account, deviceID string, now time.Time) {
	ttl := s.cfg.LoginThrottle.KnownDeviceTTL
	if ttl < 0 {
		return
	}
	id, err := base64.RawURLEncoding.DecodeString(deviceID)
	if err != nil || len(id) != deviceIDLen {
		id = make([]byte, deviceIDLen)
		_, _ = rand.Read(id) // never fails (crypto/rand, Go ≥1.24)
	}
	expiry := binary.BigEndian.AppendUint64(nil, uint64(now.Add(ttl).Unix()))
	tag := s.derived.mac(purposeKnownDevice, s.deviceMessage(expiry, id, account))
	if tag == nil {
		return
	}
	value := append(append(expiry, id...), tag...)
	http.SetCookie(w, &http.Cookie{
		Name:     s.knownDeviceCookieName(),
		Value:    base64.RawURLEncoding.EncodeToString(value),
		Path:     "/",
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		// Strict: it is only ever needed by the login form's POST, which
		// comes from our own page.
		SameSite: http.SameSiteStrictMode,
	})
}
