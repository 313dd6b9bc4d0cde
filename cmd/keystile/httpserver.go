package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
	"golang.org/x/time/rate"

	"github.com/keystile/keystile/store"
)

// HTTP server limits. Go's zero values mean "no limit", which lets one slow
// client hold a connection forever (docs/security.md §10).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	// writeTimeout leaves room for a login that waits for a free argon2 slot
	// while other logins are being checked.
	writeTimeout    = 30 * time.Second
	idleTimeout     = 120 * time.Second
	maxHeaderBytes  = 32 << 10
	shutdownTimeout = 15 * time.Second
	purgeInterval   = time.Minute
)

// serveHTTP serves h on ln until ctx is done, then shuts down gracefully:
// requests in flight get shutdownTimeout to finish. Meanwhile it purges
// expired records from st every minute. Once it listens it prints
// "keystile: listening on http://ADDR" to stdout, the line scripts and tests
// wait for (with --listen 127.0.0.1:0 it carries the port the system chose).
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, st store.Store, log *slog.Logger, stdout io.Writer) error {
	hs := newHTTPServer(h, log)

	purgeCtx, stopPurge := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { purgeLoop(purgeCtx, st, log, purgeInterval) })
	defer wg.Wait()
	defer stopPurge()

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "keystile: listening on http://%s\n", addr)
	log.Info("listening", "addr", addr)

	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", addr, err)
	}
	log.Info("stopped")
	return nil
}

// newHTTPServer returns a server for h with the limits above, logging its
// errors to log.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// purgeLoop deletes expired records (used request ids, codes, sessions,
// tokens, revocations) at start and then every interval, so that the store
// does not grow without bound.
func purgeLoop(ctx context.Context, st store.Store, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := st.DeleteExpired(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("purging expired records", "err", err)
		case n > 0:
			log.Debug("purged expired records", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// accessLog logs one line per request: method, path, status, duration and
// the client's address. Never the query (it carries codes and state), the
// headers (Authorization, cookies) or the body (passwords, verifiers).
// Throttled requests (429) are the exception: a flood of them writes
// throttledLogBurst lines, then one every throttledLogEvery, each counting
// the lines held back, so that an attacker's rate is not the log's.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	throttled := &lineBudget{lim: rate.NewLimiter(rate.Every(throttledLogEvery), throttledLogBurst)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			end := time.Now()
			line := requestLine{
				at:         end,
				method:     truncate(r.Method, 16),
				path:       truncate(r.URL.Path, 256),
				status:     sw.statusCode(),
				durationMS: milliseconds(end.Sub(start)),
				remote:     r.RemoteAddr,
			}
			if line.status == http.StatusTooManyRequests {
				ok, held := throttled.take()
				if !ok {
					return
				}
				line.suppressed = held
			}
			line.write(r.Context(), log)
		}()
		next.ServeHTTP(sw, r)
	})
}

// The access log's budget for throttled requests.
const (
	throttledLogBurst = 10
	throttledLogEvery = 10 * time.Second
)

// lineBudget lets a line through while its limiter allows, and counts the
// ones it holds back.
type lineBudget struct {
	mu   sync.Mutex
	lim  *rate.Limiter
	held int
}

func (b *lineBudget) take() (ok bool, held int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.lim.Allow() {
		b.held++
		return false, 0
	}
	held, b.held = b.held, 0
	return true, held
}

// milliseconds is d in milliseconds to the microsecond: what a person
// reads in a log line (slog writes a Duration as nanoseconds in JSON).
func milliseconds(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// isTerminal reports whether v is an *os.File that is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
