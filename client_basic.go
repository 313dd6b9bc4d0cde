package keystile

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// basicCredentials reads client_secret_basic credentials from the value of
// an Authorization header (RFC 6749 §2.3.1): Basic, base64 of id:secret,
// each part form-urlencoded before the Basic encoding. It answers what
// r.BasicAuth and url.QueryUnescape of both parts answer
// (FuzzBasicCredentialsSameAsStdlib holds it to them), with one allocation
// instead of two plus two scans: the base64 is decoded from a copy on the
// stack, and when no '%' or '+' is in it (nearly always: ids and secrets
// Keystile makes are base64url), the decoded bytes become one string, which
// both parts share. Anything else takes the straightforward way.
func basicCredentials(h string) (id, secret string, ok bool) {
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	enc := h[len(prefix):]
	var src [basicInline]byte
	var dst [basicInline * 3 / 4]byte
	if len(enc) > len(src) {
		return basicCredentialsSlow(h)
	}
	n, err := base64.StdEncoding.Decode(dst[:], src[:copy(src[:], enc)])
	if err != nil {
		return "", "", false
	}
	dec := dst[:n]
	colon := bytes.IndexByte(dec, ':')
	if colon < 0 {
		return "", "", false
	}
	if bytes.IndexByte(dec, '%') >= 0 || bytes.IndexByte(dec, '+') >= 0 {
		return basicCredentialsSlow(h)
	}
	s := string(dec)
	return s[:colon], s[colon+1:], true
}

// basicInline is the longest base64 of credentials basicCredentials decodes
// on the stack: an id and a secret of ~90 bytes together.
const basicInline = 128

// basicCredentialsSlow is basicCredentials the straightforward way, as
// authenticateClient read Basic before it: for what the fast path leaves
// (long headers, escaped parts), and the reference the fuzz target holds
// the fast path to.
func basicCredentialsSlow(h string) (id, secret string, ok bool) {
	r := http.Request{Header: http.Header{"Authorization": {h}}}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return id, secret, true
}
