package keystile

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestWriteJSON(t *testing.T) {
	t.Run("headers before the status", func(t *testing.T) {
		rec := httptest.NewRecorder()
		writeJSON(rec, http.StatusTeapot, noStoreJSON, map[string]string{"a": "b"})
		res := rec.Result()
		if res.StatusCode != http.StatusTeapot {
			t.Errorf("status %d", res.StatusCode)
		}
		for _, hd := range noStoreJSON {
			if got := res.Header.Get(hd.name); got != hd.value {
				t.Errorf("%s: %q, want %q", hd.name, got, hd.value)
			}
		}
		var got map[string]string
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil || got["a"] != "b" {
			t.Errorf("body %v, %v", got, err)
		}
	})
	t.Run("a value that cannot be encoded is a whole 500", func(t *testing.T) {
		rec := httptest.NewRecorder()
		writeJSON(rec, http.StatusOK, metadataJSON, map[string]any{"f": func() {}})
		res := rec.Result()
		if res.StatusCode != http.StatusInternalServerError || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("status %d, Cache-Control %q; want 500, no-store", res.StatusCode, res.Header.Get("Cache-Control"))
		}
		var got map[string]string
		if err := json.NewDecoder(res.Body).Decode(&got); err != nil || got["error"] != codeServerError {
			t.Errorf("body %v, %v", got, err)
		}
	})
}

// writeJSON puts header values in by name, as http.Header.Set would only
// for canonical names: a non-canonical one would never be found.
func TestJSONHeadersCanonical(t *testing.T) {
	for _, hs := range []jsonHeaders{noStoreJSON, bearerJSON, metadataJSON, jwksJSON} {
		for _, hd := range hs {
			if c := http.CanonicalHeaderKey(hd.name); c != hd.name {
				t.Errorf("header name %q is not canonical (%q)", hd.name, c)
			}
		}
	}
}

// The token response writes itself as json.Marshal writes the struct, for
// tokens as Keystile makes them (TestMintedTokensNeedNoEscaping) and any
// token type and scope.
func TestTokenResponseJSON(t *testing.T) {
	for _, r := range []tokenResponse{
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 900},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 0, Scope: "openid profile", RefreshToken: "r-_1", IDToken: "x.y.z", alg: AlgES256},
		{AccessToken: "a.b.c", TokenType: "<&>\u2028\"\\", ExpiresIn: -5, Scope: "ü\xff<"},
		{},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON\n%s\nwant\n%s", got, want)
		}
		rec := httptest.NewRecorder()
		writeJSON(rec, http.StatusOK, noStoreJSON, &r)
		if rec.Body.String() != string(want)+"\n" {
			t.Errorf("writeJSON wrote %q, want %q", rec.Body.String(), string(want)+"\n")
		}
	}
}

// TestMintedTokensNeedNoEscaping: the tokens tokenResponse.appendJSON
// writes without looking at them, access and ID tokens of every algorithm
// and refresh tokens, hold nothing json.Marshal would escape: base64url and
// dots only.
func TestMintedTokensNeedNoEscaping(t *testing.T) {
	claims := jwt.MapClaims{"iss": "https://auth.example.com", "sub": "a<b>&c\u2028\"\\", "name": "ü\xff", "exp": int64(1e9)}
	for _, k := range []SigningKey{sigTestHS(t), sigTestRS(t), sigTestES(t), sigTestEdKey(t)} {
		payload, err := json.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		at, err := k.signAccessPayload(payload)
		if err != nil {
			t.Fatal(err)
		}
		id, err := k.signIDToken(claims)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{at, id, newSecret()} {
			if strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
				t.Errorf("%s: token %q holds more than base64url and dots", k.alg, tok)
			}
			want, _ := json.Marshal(tok)
			if got := appendJSONToken(nil, tok); string(got) != string(want) {
				t.Errorf("%s: appendJSONToken wrote %s, json.Marshal %s", k.alg, got, want)
			}
		}
	}
}

// httpDate is what net/http writes as the Date of a response sent at the
// same time, whether it was formatted in that second already or not.
func TestHTTPDate(t *testing.T) {
	base := time.Date(2026, 12, 3, 9, 59, 59, 0, time.FixedZone("CET", 3600))
	for _, at := range []time.Time{base, base.Add(999 * time.Millisecond), base.Add(time.Second), base.Add(1500 * time.Millisecond), base.Add(-time.Hour), base} {
		if got, want := httpDate(at), at.UTC().Format(http.TimeFormat); got != want {
			t.Errorf("httpDate(%v) = %q, want %q", at, got, want)
		}
	}
}

// writeJSON sends a Date as net/http would, and leaves one the handler set,
// or suppressed, alone.
func TestWriteJSONDate(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, noStoreJSON, map[string]string{})
	if d, err := http.ParseTime(rec.Header().Get("Date")); err != nil || d.IsZero() {
		t.Errorf("Date %q: %v", rec.Header().Get("Date"), err)
	}
	for _, set := range [][]string{nil, {"Mon, 02 Jan 2006 15:04:05 GMT"}} {
		rec := httptest.NewRecorder()
		rec.Header()["Date"] = set
		writeJSON(rec, http.StatusOK, noStoreJSON, map[string]string{})
		if got := rec.Header()["Date"]; !slices.Equal(got, set) || (got == nil) != (set == nil) {
			t.Errorf("Date set to %q: writeJSON made it %q", set, got)
		}
	}
}

// A token response is written from a pooled buffer: what Write got was
// the whole answer, and the buffer is wiped once Write has returned.
func TestWriteJSONWipesTheTokenBuffer(t *testing.T) {
	w := &keepingWriter{ResponseRecorder: httptest.NewRecorder()}
	r := tokenResponse{AccessToken: "eyJ.secret.token", TokenType: "Bearer", ExpiresIn: 60}
	writeJSON(w, http.StatusOK, noStoreJSON, &r)
	want, _ := json.Marshal(r)
	if w.Body.String() != string(want)+"\n" {
		t.Errorf("wrote %q, want %q", w.Body.String(), string(want)+"\n")
	}
	if strings.Trim(string(w.given), "\x00") != "" {
		t.Errorf("the buffer still holds %q after the write", w.given)
	}
}

// A write that fails may leave its slice in use (HTTP/2 passes a large body
// on by reference and can fail while the frame is sent), so that buffer is
// neither wiped nor pooled again: the bytes given stay as they were.
func TestWriteJSONKeepsTheBufferOfAFailedWrite(t *testing.T) {
	w := &keepingWriter{ResponseRecorder: httptest.NewRecorder(), fail: true}
	r := tokenResponse{AccessToken: "eyJ.secret.token", TokenType: "Bearer", ExpiresIn: 60}
	writeJSON(w, http.StatusOK, noStoreJSON, &r)
	want, _ := json.Marshal(r)
	if string(w.given) != string(want)+"\n" {
		t.Errorf("after a failed write the buffer holds %q, want the answer %q left alone", w.given, string(want)+"\n")
	}
}

// keepingWriter keeps the slice its Write was given; with fail, the Write
// fails as a reset HTTP/2 stream's does.
type keepingWriter struct {
	*httptest.ResponseRecorder
	given []byte
	fail  bool
}

func (w *keepingWriter) Write(p []byte) (int, error) {
	w.given = p
	if w.fail {
		return 0, errors.New("stream closed")
	}
	return w.ResponseRecorder.Write(p)
}
