package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keystile/keystile"
)

// metrics are the Prometheus metrics of `keystile serve`, served on their
// own listener (metrics_listen), never on the public one. The library knows
// nothing of Prometheus: requests are measured around its handler, store
// calls around the store (metrics_store.go), sign-ins around the users'
// ValidateUser, and issued tokens and reused credentials through
// keystile.Config.OnEvent.
// docs/service.md lists every metric.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.HistogramVec
	tokens      *prometheus.CounterVec
	signIns     *prometheus.CounterVec
	reuse       *prometheus.CounterVec
	storeCalls  *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
}

// Sign-in outcomes (keystile_sign_ins_total's outcome label).
const (
	signInOK             = "ok"
	signInBadCredentials = "bad_credentials"
	signInThrottled      = "throttled"
	signInError          = "error"
)

// newMetrics registers every metric, the Go runtime's and the process's;
// keyAge reports the age of the key that signs now, in seconds.
func newMetrics(keyAge func() float64) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keystile_http_request_duration_seconds",
			Help: "HTTP requests by route and status, and how long they took.",
			// From a cached JWKS (well under 1 ms) to a login that hashes a
			// password behind others (seconds).
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "status"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keystile_tokens_issued_total",
			Help: "Successful /token answers by grant type and access-token algorithm.",
		}, []string{"grant_type", "algorithm"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keystile_sign_ins_total",
			Help: "Sign-in attempts at the login form by outcome: ok, bad_credentials, throttled, error.",
		}, []string{"outcome"}),
		reuse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keystile_credential_reuse_total",
			Help: "Replays of a used refresh token or authorization code, each of which revoked its family.",
		}, []string{"grant_type"}),
		storeCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keystile_store_call_duration_seconds",
			Help:    "Store calls by operation, and how long they took.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"operation"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keystile_store_errors_total",
			Help: "Store calls that failed by operation (not found, duplicate and reuse are answers, not failures).",
		}, []string{"operation"}),
	}
	m.reg.MustRegister(m.requests, m.tokens, m.signIns, m.reuse, m.storeCalls, m.storeErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keystile_signing_key_age_seconds",
			Help: "Time since the key that signs now started signing.",
		}, keyAge),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, o := range []string{signInOK, signInBadCredentials, signInThrottled, signInError} {
		m.signIns.WithLabelValues(o) // present at 0, so that rate() works from the start
	}
	for _, c := range []string{keystile.GrantRefreshToken, keystile.GrantAuthorizationCode} {
		m.reuse.WithLabelValues(c)
	}
	return m
}

// routes are the route labels: the library's routes (keystile.go's
// Handler), each under the issuer's path. Any other path is "other", so
// that a scanner cannot grow the label set.
var routes = map[string]bool{
	"/authorize": true, "/login": true, "/logout": true, "/token": true, "/revoke": true,
	"/introspect": true, "/userinfo": true, "/device_authorization": true, "/device": true,
	"/.well-known/jwks.json":                  true,
	"/.well-known/oauth-authorization-server": true, "/.well-known/openid-configuration": true,
}

func route(path string) string {
	switch {
	case routes[path]:
		return path
	case strings.HasPrefix(path, "/static/"):
		return "/static/*"
	}
	return "other"
}

// wrap measures every request to next, which sees paths below the issuer's
// (see mountAtIssuer), and counts throttled sign-ins: the login form
// answers 429 to them before it checks a password.
func (m *metrics) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Behind the access log, w already remembers its status.
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		next.ServeHTTP(sw, r)
		rt, status := route(r.URL.Path), sw.statusCode()
		m.requests.WithLabelValues(rt, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		if rt == "/login" && r.Method == http.MethodPost && status == http.StatusTooManyRequests {
			m.signIns.WithLabelValues(signInThrottled).Inc()
		}
	})
}

// event counts the library's events (keystile.Config.OnEvent).
func (m *metrics) event(e keystile.Event) {
	switch e.Kind {
	case keystile.EventTokenIssued:
		m.tokens.WithLabelValues(e.GrantType, e.Algorithm).Inc()
	case keystile.EventCredentialReused:
		m.reuse.WithLabelValues(e.GrantType).Inc()
	}
}

// validate counts the outcome of every password check.
func (m *metrics) validate(next keystile.ValidateUserFunc) keystile.ValidateUserFunc {
	return func(ctx context.Context, username, password string) (keystile.Identity, error) {
		id, err := next(ctx, username, password)
		switch {
		case err == nil:
			m.signIns.WithLabelValues(signInOK).Inc()
		case errors.Is(err, keystile.ErrInvalidCredentials):
			m.signIns.WithLabelValues(signInBadCredentials).Inc()
		default:
			m.signIns.WithLabelValues(signInError).Inc()
		}
		return id, err
	}
}

// serve serves /metrics on ln until ctx is done. It prints
// "keystile: metrics on http://ADDR/metrics" to stdout, as serveHTTP prints
// its listening line.
func (m *metrics) serve(ctx context.Context, ln net.Listener, log *slog.Logger, stdout io.Writer) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	hs := newHTTPServer(mux, log)
	fmt.Fprintf(stdout, "keystile: metrics on http://%s/metrics\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serving metrics", "err", err)
	}
}
