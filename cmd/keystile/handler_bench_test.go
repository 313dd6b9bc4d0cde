package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keystile/keystile"
)

// benchSecret is the client secret of the handler-chain benchmarks.
const benchSecret = "bench-secret-0123456789abcdef0123456789"

// benchChain builds the handler `keystile serve` serves, as serve.go wires
// it (metrics around the library's handler, mounted at the issuer, health,
// the access log outermost), from a config like bench/run.sh's: HS256, the
// memory store, one client_credentials client, log_level info. The log goes
// to a file, as the benchmark script sends it, so every line costs a write.
func benchChain(b *testing.B) http.Handler {
	b.Helper()
	dir := b.TempDir()
	sum := sha256.Sum256([]byte(benchSecret))
	writeFile(b, dir, "hs256.secret", "cj9m1lB1wq3Zr7oQ0a9XhYpV4s2dKfT8uEeNnGgHhJjLlMmPp0123456789ab\n")
	cfg := writeFile(b, dir, "keystile.yaml", `issuer: http://127.0.0.1:9000
listen: 127.0.0.1:9000
store: "memory:"
log_level: info
signing:
  algorithm: HS256
  secret_file: `+filepath.Join(dir, "hs256.secret")+`
clients:
  - id: bench
    secret_hash: "sha256:`+hex.EncodeToString(sum[:])+`"
    grant_types: [client_credentials]
`)
	s, err := loadConfigListen(cfg, func(string) string { return "" }, "")
	if err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "keystile.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })
	log, flushLog := newLogger(logFile, s.LogLevel, s.LogFlush)
	b.Cleanup(flushLog)
	opened, err := openStore(context.Background(), s.Store, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { opened.Close() })
	m := newMetrics(func() float64 { return 0 })
	st := measure(opened, m)
	keys, err := signingKeys(s, log)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := newServer(s, st, keys, keystile.SigningKey{}, newLiveUsers(s.Users), m, log)
	if err != nil {
		b.Fatal(err)
	}
	handler, err := mountAtIssuer(s.Issuer, m.wrap(srv.Handler()))
	if err != nil {
		b.Fatal(err)
	}
	hc := newHealth(st.Ping, func() bool { return true }, log)
	return accessLog(log, hc.wrap(handler))
}

// BenchmarkServeClientCredentialsHS256 is one client_credentials /token
// request through the whole handler chain of `keystile serve`, logging
// included: the per-request cost bench/run.sh measures, without the network.
func BenchmarkServeClientCredentialsHS256(b *testing.B) {
	h := benchChain(b)
	const body = "grant_type=client_credentials"
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		r.RemoteAddr = "127.0.0.1:50000"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("bench", benchSecret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkAccessLog is the access log's own cost: one request to a handler
// that only answers 204, through accessLog with the JSON logger of
// `keystile serve` writing to a file.
func BenchmarkAccessLog(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "keystile.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	log, flushLog := newLogger(f, slog.LevelInfo, defaultLogFlush)
	defer flushLog()
	h := accessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	r := httptest.NewRequest(http.MethodPost, "/token", nil)
	r.RemoteAddr = "127.0.0.1:50000"
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
