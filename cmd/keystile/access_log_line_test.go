package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keystile/keystile/internal/testutil"
)

// TestRequestLineIsSlogJSON: the access log's own line is, byte for byte,
// the line slog's JSON handler writes for the same record; lines it cannot
// write itself it leaves to slog.
func TestRequestLineIsSlogJSON(t *testing.T) {
	utc := time.Date(2026, 12, 3, 4, 5, 6, 789012345, time.UTC)
	zone := time.FixedZone("X", -(3*3600 + 1800))
	cases := []struct {
		line      requestLine
		selfWrite bool
	}{
		{requestLine{at: utc, method: "POST", path: "/token", status: 200, durationMS: 0.123, remote: "127.0.0.1:50000"}, true},
		{requestLine{at: utc.In(zone), method: "GET", path: "/.well-known/jwks.json", status: 304, durationMS: 0, remote: "[::1]:1"}, true},
		{requestLine{at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), method: "POST", path: "/login", status: 429, durationMS: 12345.678, remote: "", suppressed: 41}, true},
		{requestLine{at: utc, method: "GET", path: "/a<b>&c'~", status: 404, durationMS: 1e20, remote: "x"}, true},
		{requestLine{at: utc, method: "GET", path: "/ü", status: 200, durationMS: 1, remote: "x"}, false},
		{requestLine{at: utc, method: "GET", path: "/\"\\\n", status: 200, durationMS: 1, remote: "x"}, false},
		{requestLine{at: utc, method: "GET", path: "/\xff", status: 200, durationMS: 1, remote: "x"}, false},
		{requestLine{at: utc, method: "GET", path: "/", status: 200, durationMS: 1e21, remote: "x"}, false},
		{requestLine{at: utc, method: "GET", path: "/", status: 200, durationMS: 1e-7, remote: "x"}, false},
	}
	for _, tc := range cases {
		var want bytes.Buffer
		r := slog.NewRecord(tc.line.at, slog.LevelInfo, "request", 0)
		r.AddAttrs(tc.line.attrs()...)
		if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		got, ok := tc.line.appendJSON(nil)
		if ok != tc.selfWrite {
			t.Errorf("%+v: written by the access log itself: %v, want %v", tc.line, ok, tc.selfWrite)
		}
		if ok && string(got) != want.String() {
			t.Errorf("line\n%s\nslog writes\n%s", got, want.String())
		}
		// Either way, what reaches the log is slog's line.
		var out bytes.Buffer
		j := newJSONLog(&out, nil, time.Hour)
		tc.line.write(context.Background(), slog.New(j))
		if err := j.out.flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want.String() {
			t.Errorf("logged\n%s\nslog writes\n%s", out.String(), want.String())
		}
	}
}

// The access log of `keystile serve` writes one JSON line per request with
// its fields, and none below its level.
func TestAccessLogJSONLine(t *testing.T) {
	var buf bytes.Buffer
	h := accessLog(newLoggerNow(&buf, slog.LevelInfo), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	r := httptest.NewRequest(http.MethodPost, "/token?code=secret", nil)
	r.RemoteAddr = "192.0.2.7:4242"
	h.ServeHTTP(httptest.NewRecorder(), r)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, buf.String())
	}
	for k, want := range map[string]any{"level": "INFO", "msg": "request", "method": "POST", "path": "/token", "status": 201.0, "remote": "192.0.2.7:4242"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms = %v, want a number", line["duration_ms"])
	}
	if _, err := time.Parse(time.RFC3339Nano, line["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
	if strings.Contains(buf.String(), "secret") {
		t.Error("the query reached the log")
	}

	buf.Reset()
	h = accessLog(newLoggerNow(&buf, slog.LevelWarn), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if buf.Len() != 0 {
		t.Errorf("log_level warn still wrote %q", buf.String())
	}
}

// newLoggerNow is newLogger writing every line at once.
func newLoggerNow(w io.Writer, level slog.Level) *slog.Logger {
	log, _ := newLogger(w, level, 0)
	return log
}

// TestLogWriterHoldsOnlyRequestLines: request lines wait to be written
// together; any other line is written at once, after the request lines
// before it; flush writes what waits.
func TestLogWriterHoldsOnlyRequestLines(t *testing.T) {
	var buf bytes.Buffer
	log, flush := newLogger(&buf, slog.LevelInfo, time.Hour)
	h := accessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	request := func(path string) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	request("/one")
	request("/two")
	if buf.Len() != 0 {
		t.Fatalf("request lines were written at once:\n%s", buf.String())
	}
	log.Warn("a warning")
	want := []string{`"path":"/one"`, `"path":"/two"`, `"msg":"a warning"`}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("after a warning the log holds %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %s, want it to hold %s", i, lines[i], w)
		}
	}
	request("/three")
	flush()
	if !strings.HasSuffix(buf.String(), "\n") || !strings.Contains(buf.String(), `"path":"/three"`) {
		t.Errorf("flush did not write the held request line:\n%s", buf.String())
	}
}

// TestLogWriterFlushesByItself: a held request line is written within
// flushEvery without anything else happening, and a full buffer is written
// at once.
func TestLogWriterFlushesByItself(t *testing.T) {
	var buf testutil.SyncBuffer
	log, _ := newLogger(&buf, slog.LevelInfo, 10*time.Millisecond)
	h := accessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/alone", nil))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(buf.String(), `"path":"/alone"`); {
		if time.Now().After(deadline) {
			t.Fatal("a held request line was never written")
		}
		time.Sleep(5 * time.Millisecond)
	}

	var full testutil.SyncBuffer
	log, _ = newLogger(&full, slog.LevelInfo, time.Hour)
	h = accessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/"+strings.Repeat("x", 200), nil)
	for n := 0; full.String() == ""; n++ {
		if n > logBufferSize/200 {
			t.Fatalf("%d request lines of over 200 bytes held, more than logBufferSize", n)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
