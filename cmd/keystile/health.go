package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Health probes, at the root of the listener whatever the issuer's path:
// they describe the process, not the issuer.
const (
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
	// pingTimeout bounds the store check of one /readyz: a load balancer
	// probes every few seconds, and a store that takes longer than this to
	// answer a ping is not ready to serve a sign-in either.
	pingTimeout = 2 * time.Second
)

// health answers GET /healthz (the process serves HTTP) and GET /readyz
// (the process can serve OAuth: the store answers, a signing key is loaded,
// and it is not draining). Each probe's body is one short word or phrase; a
// store's error is logged, once per change of state, never sent.
type health struct {
	ping     func(context.Context) error // the store's Ping
	keys     func() bool                 // a signing key is loaded
	log      *slog.Logger
	draining atomic.Bool
	failing  atomic.Bool // the last readiness check failed: log only changes
}

func newHealth(ping func(context.Context) error, keys func() bool, log *slog.Logger) *health {
	return &health{ping: ping, keys: keys, log: log}
}

// wrap serves the probes and passes every other request to next.
func (h *health) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.URL.Path == healthzPath || r.URL.Path == readyzPath
		if !probe {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		status, text := http.StatusOK, "ok"
		if r.URL.Path == readyzPath {
			status, text = h.ready(r.Context())
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, text+"\n")
		}
	})
}

// ready checks readiness, cheapest condition first.
func (h *health) ready(ctx context.Context) (int, string) {
	if h.draining.Load() {
		return http.StatusServiceUnavailable, "draining"
	}
	if !h.keys() {
		return h.notReady("no signing key", nil)
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := h.ping(ctx); err != nil {
		return h.notReady("store unavailable", err)
	}
	if h.failing.Swap(false) {
		h.log.Info("ready again")
	}
	return http.StatusOK, "ok"
}

func (h *health) notReady(why string, err error) (int, string) {
	if !h.failing.Swap(true) {
		h.log.Warn("not ready", "reason", why, "err", err)
	}
	return http.StatusServiceUnavailable, why
}

// drainAfter returns a context that ends delay after ctx does. In between,
// /readyz answers 503 while every other request is still served, so that a
// load balancer takes the process out of rotation before its listener
// closes (a SIGTERM ends ctx).
func (h *health) drainAfter(ctx context.Context, delay time.Duration) context.Context {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		<-ctx.Done()
		h.draining.Store(true)
		if delay > 0 {
			h.log.Info("draining: /readyz answers 503 until the listener closes", "delay", delay)
			time.Sleep(delay)
		}
		cancel()
	}()
	return out
}
