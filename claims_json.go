package keystile

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// accessTokenPayload is the JSON claims set of g's RFC 9068 access token
// (§2.2): the custom claims its audience may see, then the registered ones
// over them; aud and scope are those of its resource (resources.go). It is
// written byte for byte as json.Marshal writes the same claims in a
// jwt.MapClaims (names sorted, HTML characters escaped), without the map
// and the reflection: /token signs one of these on every request. It is
// appended to b, which mint gives room for on its stack.
func (s *Server) accessTokenPayload(b []byte, g grant, now time.Time) ([]byte, error) {
	var inline [12]claimField
	fields := inline[:0]
	fields = append(fields, claimField{name: "aud", str: s.audience(g)})
	if !g.authTime.IsZero() {
		fields = append(fields, claimField{name: "auth_time", num: g.authTime.Unix(), isNum: true})
	}
	fields = append(fields,
		claimField{name: "client_id", str: g.client.ID},
		claimField{name: "exp", num: now.Add(s.cfg.AccessTokenTTL).Unix(), isNum: true},
		claimField{name: "iat", num: now.Unix(), isNum: true},
		claimField{name: "iss", str: s.cfg.Issuer},
		claimField{name: "jti", str: g.jti},
	)
	if g.jti == "" {
		fields[len(fields)-1].str = newTokenID()
	}
	if scope := s.accessScope(g); len(scope) > 0 {
		fields = append(fields, claimField{name: "scope", str: strings.Join(scope, " ")})
	}
	fields = append(fields, claimField{name: "sub", str: g.subject})
	if custom := s.accessClaims(g); len(custom) > 0 {
		for k, v := range custom {
			if !registeredClaims[k] {
				fields = append(fields, claimField{name: k, val: v, isAny: true})
			}
		}
		slices.SortFunc(fields, func(a, b claimField) int { return strings.Compare(a.name, b.name) })
	}
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.name)
		b = append(b, ':')
		switch {
		case f.isNum:
			b = strconv.AppendInt(b, f.num, 10)
		case f.isAny:
			v, err := json.Marshal(f.val)
			if err != nil {
				return nil, err
			}
			b = append(b, v...)
		default:
			b = appendJSONString(b, f.str)
		}
	}
	return append(b, '}'), nil
}

// claimField is one claim of accessTokenPayload: a string, an integer or,
// for a custom claim, any value json.Marshal takes.
type claimField struct {
	name  string
	str   string
	num   int64
	val   any
	isNum bool
	isAny bool
}

// newTokenID is a random jti of 132 bits: the first 22 characters of a
// base64url-encoded random value, as newSecret()[:22] gives them, its
// bytes from crypto/rand by way of tokenIDRandom.
func newTokenID() string {
	var raw [17]byte // 17 bytes encode to 23 characters; 22 are kept
	tokenIDRandom.read(raw[:])
	var out [23]byte
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return string(out[:22])
}

// jsonPlain[c] is whether encoding/json writes byte c of a string as it
// is: printable ASCII but the quote, the backslash and the HTML characters
// <, > and &. A table, since every token response runs its tokens (some
// hundreds of bytes) through appendJSONString: a look-up a byte costs
// about half of the seven comparisons it replaces.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendJSONString appends s as encoding/json writes a string. Strings of
// printable ASCII with nothing to escape (every registered claim Keystile
// writes, nearly always) are copied as they are; any other string goes
// through encoding/json itself, so that its escaping (HTML characters,
// U+2028, invalid UTF-8) stays exactly encoding/json's.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
