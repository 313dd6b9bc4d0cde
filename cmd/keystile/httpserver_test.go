package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
)

// countingStore records how many records DeleteExpired removed.
type countingStore struct {
	store.Store
	purged atomic.Int64
}

func (c *countingStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	n, err := c.Store.DeleteExpired(ctx, now)
	c.purged.Add(n)
	return n, err
}

// TestServeHTTPPurgesAndBoundsRequests runs serveHTTP on loopback: expired
// records are purged in the background (the store does not grow without
// bound) while live ones stay, and an oversized header block is refused
// before any handler runs (MaxHeaderBytes; Go's default is 1 MiB).
func TestServeHTTPPurgesAndBoundsRequests(t *testing.T) {
	st := &countingStore{Store: memory.New()}
	ctx := t.Context()
	now := time.Now()
	for i, exp := range []time.Time{now.Add(-time.Minute), now.Add(-time.Second), now.Add(time.Hour)} {
		err := st.CreateCode(ctx, store.AuthCode{Hash: []byte{byte(i + 1)}, ClientID: "c", ExpiresAt: exp, FamilyID: "f"})
		if err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handled := atomic.Int32{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handled.Add(1) })
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- serveHTTP(srvCtx, ln, h, st, slog.New(slog.DiscardHandler), io.Discard)
	}()

	deadline := time.Now().Add(5 * time.Second)
	for st.purged.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := st.purged.Load(); got != 2 {
		t.Errorf("purged %d records, want the 2 expired codes", got)
	}
	if _, err := st.RedeemCode(ctx, []byte{3}, time.Now(), func(store.AuthCode) (*store.RefreshToken, error) { return nil, nil }); err != nil {
		t.Errorf("the live code did not survive the purge: %v", err)
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2*maxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || handled.Load() != 0 {
		t.Errorf("oversized headers: status %d, handler ran %d times; want 431 and no handler", resp.StatusCode, handled.Load())
	}
	if bytes.Contains(body, []byte("aaaa")) {
		t.Error("the refusal echoes the header")
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serveHTTP: %v", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("serveHTTP did not return after its context ended")
	}
}

// TestAccessLogBoundsThrottledRequests: a flood of throttled requests (429)
// writes a bounded number of access-log lines, each after the first saying
// how many were held back; other requests get one line each (issue 8,
// item 2).
func TestAccessLogBoundsThrottledRequests(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	status := http.StatusTooManyRequests
	h := accessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	for range 1000 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/login", nil))
	}
	if n := strings.Count(buf.String(), "\n"); n != throttledLogBurst {
		t.Fatalf("1,000 throttled requests wrote %d lines, want %d", n, throttledLogBurst)
	}
	status = http.StatusOK
	for range 20 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/authorize", nil))
	}
	if n := strings.Count(buf.String(), "status=200"); n != 20 {
		t.Fatalf("20 ordinary requests wrote %d lines, want 20", n)
	}
}
