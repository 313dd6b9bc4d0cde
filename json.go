package keystile

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// jsonHeaders are the headers of one kind of JSON answer. writeJSON sets them
// before the status line, since nothing can be added after WriteHeader. A
// slice, not a map: every JSON answer walks it, and a map's iterator cost
// ~550 instructions a /token request for four entries (callgrind).
type jsonHeaders []jsonHeader

// jsonHeader is one header of a jsonHeaders, its name in canonical form.
type jsonHeader struct{ name, value string }

// The kinds of JSON answer, each with the headers it has always had.
var (
	// noStoreJSON: token responses, introspection, userinfo and the RFC 6749
	// §5.2 errors. They carry tokens or facts about them, so nothing may
	// keep them (RFC 6749 §5.1); Pragma for HTTP/1.0 caches.
	noStoreJSON = jsonHeaders{
		{"Content-Type", "application/json;charset=UTF-8"},
		{"X-Content-Type-Options", "nosniff"},
		{"Cache-Control", "no-store"},
		{"Pragma", "no-cache"},
	}
	// bearerJSON: the body of an RFC 6750 §3 error, which resource servers
	// send too (Verifier.Middleware, RequireClaim).
	bearerJSON = jsonHeaders{
		{"Content-Type", "application/json;charset=UTF-8"},
		{"Cache-Control", "no-store"},
	}
	// metadataJSON: the discovery documents, the same for every caller.
	metadataJSON = jsonHeaders{
		{"Content-Type", "application/json"},
		{"Cache-Control", "public, max-age=300"},
	}
	// jwksJSON: the JWKS, cached for jwksMaxAge.
	jwksJSON = jsonHeaders{
		{"Content-Type", "application/json"},
		{"X-Content-Type-Options", "nosniff"},
		{"Cache-Control", jwksMaxAge},
	}
)

// serverErrorJSON is what writeJSON sends when v cannot be encoded.
const serverErrorJSON = `{"error":"` + codeServerError + `","error_description":"the server could not complete the request"}` + "\n"

// writeJSON is the one way a JSON answer is written: the headers of its kind
// (plus any the caller set before, such as a challenge), the status, then v.
// v is encoded before anything is sent, so that a value that cannot be
// encoded becomes a whole 500 answer instead of a 200 with half a body.
func writeJSON(w http.ResponseWriter, status int, headers jsonHeaders, v any) {
	var body []byte
	var err error
	var pooled *[]byte
	if a, ok := v.(jsonAppender); ok {
		// The answers of every request (tokens) are written from a pooled
		// buffer, wiped afterwards since they hold credentials: a Write
		// does not keep what it is given (io.Writer).
		pooled = jsonBuffers.Get().(*[]byte)
		body = a.appendJSON((*pooled)[:0])
	} else {
		body, err = json.Marshal(v)
	}
	if err != nil {
		headers, status, body = noStoreJSON, http.StatusInternalServerError, []byte(serverErrorJSON)
	} else {
		body = append(body, '\n')
	}
	// The names are canonical already (TestJSONHeadersCanonical), so the
	// values go in directly, sharing one allocation instead of one each.
	h := w.Header()
	values := make([]string, 0, len(headers)+1)
	for _, hd := range headers {
		values = append(values, hd.value)
		h[hd.name] = values[len(values)-1 : len(values) : len(values)]
	}
	if _, set := h["Date"]; !set { // nil there suppresses it, as for net/http
		values = append(values, httpDate(time.Now()))
		h["Date"] = values[len(values)-1:]
	}
	w.WriteHeader(status)
	_, werr := w.Write(body)
	// A failed write may leave the body still referenced: HTTP/2 hands a
	// large body on by reference and can fail the write while the frame is
	// being sent (net/http keeps its own buffer out of its pool then too),
	// so only a written buffer is wiped and pooled again.
	if pooled != nil && werr == nil {
		clear(body)
		if cap(body) <= maxPooledJSON {
			*pooled = body[:0]
			jsonBuffers.Put(pooled)
		}
	}
}

// jsonBuffers are writeJSON's buffers; maxPooledJSON bounds what one keeps.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledJSON = 16 << 10

// httpDate is the Date header net/http writes for a response sent at now
// (now.UTC() in http.TimeFormat), formatted once a second: net/http formats
// it for every response that has none (~1,900 instructions a /token
// request, callgrind), and it changes once a second.
func httpDate(now time.Time) string {
	sec := now.Unix()
	if d := lastDate.Load(); d != nil && d.sec == sec {
		return d.value
	}
	d := &dateValue{sec: sec, value: now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.value
}

// lastDate is the Date header of the last second a JSON answer was sent in.
var lastDate atomic.Pointer[dateValue]

type dateValue struct {
	sec   int64
	value string
}

// jsonAppender is a response that writes its own JSON, byte for byte what
// json.Marshal would write, for the answers sent on every request.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}
