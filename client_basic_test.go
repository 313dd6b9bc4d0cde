package keystile

import (
	"encoding/base64"
	"strings"
	"testing"
)

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

// The hostile and the odd Authorization headers, with what they must give.
var basicCases = []struct {
	name, header string
	id, secret   string
	ok           bool
}{
	{"plain", basic("svc:s3cret"), "svc", "s3cret", true},
	{"scheme in other case", "bAsIc " + base64.StdEncoding.EncodeToString([]byte("svc:x")), "svc", "x", true},
	{"empty secret", basic("svc:"), "svc", "", true},
	{"empty id", basic(":x"), "", "x", true},
	{"colon in the secret", basic("svc:a:b"), "svc", "a:b", true},
	{"percent-escapes", basic("my%20app:p%3Aw%2Bd"), "my app", "p:w+d", true},
	{"plus is a space", basic("a+b:c+d"), "a b", "c d", true},
	{"escaped colon in the id", basic("a%3Ab:c"), "a:b", "c", true},
	{"utf-8 escaped", basic("%E2%82%AC:x"), "€", "x", true},
	{"newlines inside the base64 are skipped", "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:s3cret"))[:4] + "\r\n" + base64.StdEncoding.EncodeToString([]byte("svc:s3cret"))[4:], "svc", "s3cret", true},
	{"long credentials", basic(strings.Repeat("i", 100) + ":" + strings.Repeat("s", 200)), strings.Repeat("i", 100), strings.Repeat("s", 200), true},
	{"long and escaped", basic(strings.Repeat("i", 100) + "%21:" + strings.Repeat("s", 200)), strings.Repeat("i", 100) + "!", strings.Repeat("s", 200), true},
	{"missing colon", basic("svc"), "", "", false},
	{"bad escape in the id", basic("a%zz:x"), "", "", false},
	{"bad escape in the secret", basic("svc:%"), "", "", false},
	{"truncated escape", basic("svc:%4"), "", "", false},
	{"malformed base64", "Basic !!!", "", "", false},
	{"base64 without padding", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("svc:x")), "", "", false},
	{"base64url alphabet", "Basic " + base64.URLEncoding.EncodeToString([]byte("\xfb\xff:\xfe")), "", "", false},
	{"trailing garbage", basic("svc:x") + "=", "", "", false},
	{"no scheme", base64.StdEncoding.EncodeToString([]byte("svc:x")), "", "", false},
	{"Bearer", "Bearer abc", "", "", false},
	{"scheme only", "Basic ", "", "", false},
	{"scheme without the space", "Basic", "", "", false},
	{"two spaces", "Basic  " + base64.StdEncoding.EncodeToString([]byte("svc:x")), "", "", false},
	{"oversized", basic(strings.Repeat("a", 1<<16) + ":x"), strings.Repeat("a", 1<<16), "x", true},
	{"oversized and malformed", "Basic " + strings.Repeat("!", 1<<16), "", "", false},
}

func TestBasicCredentials(t *testing.T) {
	for _, c := range basicCases {
		id, secret, ok := basicCredentials(c.header)
		if id != c.id || secret != c.secret || ok != c.ok {
			t.Errorf("%s: got %q, %q, %v; want %q, %q, %v", c.name, id, secret, ok, c.id, c.secret, c.ok)
		}
		sameBasicAsStdlib(t, c.header)
	}
}

// FuzzBasicCredentialsSameAsStdlib: on any header, the fast path accepts
// and refuses what basicCredentialsSlow (r.BasicAuth, then url.QueryUnescape
// of both parts) does, with the same values.
func FuzzBasicCredentialsSameAsStdlib(f *testing.F) {
	for _, c := range basicCases {
		if len(c.header) < 1024 {
			f.Add(c.header)
		}
	}
	f.Fuzz(sameBasicAsStdlib)
}

func sameBasicAsStdlib(t *testing.T, h string) {
	id, secret, ok := basicCredentials(h)
	wid, wsecret, wok := basicCredentialsSlow(h)
	if id != wid || secret != wsecret || ok != wok {
		t.Fatalf("%q: got %q, %q, %v; r.BasicAuth and url.QueryUnescape give %q, %q, %v", h, id, secret, ok, wid, wsecret, wok)
	}
}

// TestBasicCredentialsAllocations pins the point of the fast path: one
// string for both parts.
func TestBasicCredentialsAllocations(t *testing.T) {
	h := basic("svc:" + testClientSecret)
	if n := testing.AllocsPerRun(100, func() { basicCredentials(h) }); n != 1 {
		t.Errorf("basicCredentials allocates %v times, want 1", n)
	}
}
