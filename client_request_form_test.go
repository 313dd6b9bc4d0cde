package keystile

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// parseTokenFormBefore is parseTokenForm as it was, on url.ParseQuery and
// singleValues, with the client_id claimedClientID took from its values.
func parseTokenFormBefore(body string) (params, clientIDParam, error) {
	values, qerr := url.ParseQuery(body)
	if qerr != nil {
		values = nil
	}
	var id clientIDParam
	if len(values["client_id"]) == 1 {
		id = clientIDParam{value: values["client_id"][0], ok: true}
	}
	if strings.Count(body, "&") >= maxParams {
		return nil, id, oauthError(codeInvalidRequest, "the request has too many parameters")
	}
	if qerr != nil {
		return nil, clientIDParam{}, oauthError(codeInvalidRequest, "the body is not valid form encoding")
	}
	p, _, perr := singleValues(values)
	if perr != nil {
		return nil, id, perr
	}
	return p, id, nil
}

var formSeeds = []string{
	"grant_type=client_credentials&scope=reports%3Aread",
	"grant_type=client_credentials&client_id=svc&client_secret=a%2Bb+c",
	"client_id=a&client_id=b", "client_id=&client_id=x", "code=&code=", "code=a&code=&scope=x&scope=y",
	"%zz", "a=%zz&client_id=x", "a=b;c=d", "&&&=&=", "=x", "=x&=y", "a", "a&a", "a=&b", "+=+",
	"client_id=x&" + strings.Repeat("a=b&", 70), strings.Repeat("&", 63), strings.Repeat("&", 64),
	"z=1&y=2&z=3&y=4&x", "client_id=%E2%82%AC", "client_id=%",
}

// TestParseTokenFormSameAsBefore and its fuzz target: the one-pass parser
// gives what url.ParseQuery and singleValues gave, error text included.
func TestParseTokenFormSameAsBefore(t *testing.T) {
	for _, body := range formSeeds {
		sameAsBefore(t, body)
	}
}

func FuzzParseTokenFormSameAsBefore(f *testing.F) {
	for _, s := range formSeeds {
		f.Add(s)
	}
	f.Fuzz(sameAsBefore)
}

func sameAsBefore(t *testing.T, body string) {
	p, id, err := parseTokenForm(body)
	wp, wid, werr := parseTokenFormBefore(body)
	if !reflect.DeepEqual(p, wp) || id != wid || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("%q: parsed %v, %+v, %v; before %v, %+v, %v", body, p, id, err, wp, wid, werr)
	}
}

// queryUnescape's shortcut answers what url.QueryUnescape answers.
func FuzzQueryUnescapeSameAsURL(f *testing.F) {
	for _, s := range []string{"", "plain", "a+b", "%41", "%", "%4", "%zz", "a%20b+c", "%E2%82%AC", "+", "%2B", "%%", "x\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := queryUnescape(s)
		want, werr := url.QueryUnescape(s)
		if got != want || (err == nil) != (werr == nil) {
			t.Fatalf("%q: queryUnescape gives %q, %v; url.QueryUnescape %q, %v", s, got, err, want, werr)
		}
	})
}

// headerValue finds what Header.Get finds, for canonical keys.
func TestHeaderValueIsGet(t *testing.T) {
	h := http.Header{}
	h.Add("Authorization", "Basic one")
	h.Add("Authorization", "Basic two")
	h["Content-Type"] = []string{}
	h["content-type"] = []string{"not canonical: Get never finds it"}
	for _, k := range []string{"Authorization", "Content-Type", "Origin"} {
		if got, want := headerValue(h, k), h.Get(k); got != want {
			t.Errorf("headerValue(%q) = %q, Get gives %q", k, got, want)
		}
	}
}

// readFormBody reads what io.ReadAll reads, with the same error, however
// the reader hands the body out, and wipes its buffer afterwards.
func TestReadFormBodyIsReadAll(t *testing.T) {
	errBroken := errors.New("broken")
	bodies := []string{"", "grant_type=client_credentials&client_secret=s3cret", strings.Repeat("a=b&", 300), strings.Repeat("x", 20000)}
	readers := map[string]func(string) io.Reader{
		"whole":       func(s string) io.Reader { return strings.NewReader(s) },
		"a byte each": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"data and EOF together": func(s string) io.Reader {
			return iotest.DataErrReader(strings.NewReader(s))
		},
		"broken half-way": func(s string) io.Reader {
			return io.MultiReader(strings.NewReader(s[:len(s)/2]), iotest.ErrReader(errBroken))
		},
	}
	for name, mk := range readers {
		for _, body := range bodies {
			got, err := readFormBody(mk(body))
			want, werr := io.ReadAll(mk(body))
			if got != string(want) || !errors.Is(err, werr) && err != werr {
				t.Errorf("%s, %d bytes: read %d bytes, %v; io.ReadAll %d, %v", name, len(body), len(got), err, len(want), werr)
			}
		}
	}
	spy := &spyReader{r: strings.NewReader("client_secret=s3cret")}
	if _, err := readFormBody(spy); err != nil {
		t.Fatal(err)
	}
	for _, b := range spy.bufs {
		if strings.Trim(string(b), "\x00") != "" {
			t.Errorf("the buffer still holds %q", b)
		}
	}
}

// spyReader keeps the buffers it was asked to read into.
type spyReader struct {
	r    io.Reader
	bufs [][]byte
}

func (s *spyReader) Read(p []byte) (int, error) {
	s.bufs = append(s.bufs, p[:cap(p)])
	return s.r.Read(p)
}
