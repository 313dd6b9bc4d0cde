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

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/keystile/keystile"
)

// metrics are the Prometheus metrics of `keystile serve`, served on their
// own listener (metrics_listen), never on the public one. The library knows
// nothing of Prometheus: requests are measured around its handler, store
// calls around the store (metrics_store.go), sign-ins around the users'
// ValidateUser, and issued tokens and reused credentials through
// keystile.Config.OnEvent.
// docs/service.md lists every metric.
//
// They are kept by github.com/VictoriaMetrics/metrics, which writes the
// same text exposition as Prometheus' client_golang for about a tenth of
// the binary size (client_golang brings protobuf and procfs: 3.4 MB);
// metric_family.go adds the HELP and TYPE lines it leaves out.
type metrics struct {
	families    []*family // in the order of the exposition
	requests    *family
	tokens      *family
	signIns     *family
	reuse       *family
	storeCalls  *family
	storeErrors *family

	// The series every request, token or store call counts in, by label
	// values.
	requestSeries seriesCache[requestLabels, *vm.PrometheusHistogram]
	tokenSeries   seriesCache[tokenLabels, *vm.Counter]
	storeSeries   seriesCache[string, *vm.PrometheusHistogram] // by operation
}

type requestLabels struct {
	route  string
	status int
}

type tokenLabels struct{ algorithm, grantType string }

// Sign-in outcomes (keystile_sign_ins_total's outcome label).
const (
	signInOK             = "ok"
	signInBadCredentials = "bad_credentials"
	signInThrottled      = "throttled"
	signInError          = "error"
)

// newMetrics registers every metric; keyAge reports the age of the key
// that signs now, in seconds. The Go runtime's and the process's metrics
// are written at every scrape (write).
func newMetrics(keyAge func() float64) *metrics {
	m := &metrics{
		requests: newHistogram("keystile_http_request_duration_seconds",
			"HTTP requests by route and status, and how long they took.",
			// From a cached JWKS (well under 1 ms) to a login that hashes a
			// password behind others (seconds).
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}),
		tokens: newFamily("keystile_tokens_issued_total", typeCounter,
			"Successful /token answers by grant type and access-token algorithm."),
		signIns: newFamily("keystile_sign_ins_total", typeCounter,
			"Sign-in attempts at the login form by outcome: ok, bad_credentials, throttled, error."),
		reuse: newFamily("keystile_credential_reuse_total", typeCounter,
			"Replays of a used refresh token or authorization code, each of which revoked its family."),
		storeCalls: newHistogram("keystile_store_call_duration_seconds",
			"Store calls by operation, and how long they took.",
			[]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}),
		storeErrors: newFamily("keystile_store_errors_total", typeCounter,
			"Store calls that failed by operation (not found, duplicate and reuse are answers, not failures)."),
	}
	keyAgeGauge := newFamily("keystile_signing_key_age_seconds", typeGauge,
		"Time since the key that signs now started signing.")
	keyAgeGauge.set.NewGauge(keyAgeGauge.name, keyAge)
	m.families = []*family{m.requests, m.tokens, m.signIns, m.reuse, m.storeCalls, m.storeErrors, keyAgeGauge}
	for _, o := range []string{signInOK, signInBadCredentials, signInThrottled, signInError} {
		m.signIns.counter("outcome", o) // present at 0, so that rate() works from the start
	}
	for _, c := range []string{keystile.GrantRefreshToken, keystile.GrantAuthorizationCode} {
		m.reuse.counter("grant_type", c)
	}
	return m
}

// write writes every metric in the Prometheus text format, then the Go
// runtime's (go_*) and the process's (process_*, open files among them).
func (m *metrics) write(w io.Writer) {
	for _, f := range m.families {
		f.write(w)
	}
	vm.WriteGoMetrics(w)
	vm.WriteProcMetrics(w)
	vm.WriteFDMetrics(w)
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
		m.requestSeries.get(requestLabels{rt, status}, func() *vm.PrometheusHistogram {
			return m.requests.histogram("route", rt, "status", strconv.Itoa(status))
		}).Update(time.Since(start).Seconds())
		if rt == "/login" && r.Method == http.MethodPost && status == http.StatusTooManyRequests {
			m.signIns.counter("outcome", signInThrottled).Inc()
		}
	})
}

// event counts the library's events (keystile.Config.OnEvent).
func (m *metrics) event(e keystile.Event) {
	switch e.Kind {
	case keystile.EventTokenIssued:
		m.tokenSeries.get(tokenLabels{e.Algorithm, e.GrantType}, func() *vm.Counter {
			return m.tokens.counter("algorithm", e.Algorithm, "grant_type", e.GrantType)
		}).Inc()
	case keystile.EventCredentialReused:
		m.reuse.counter("grant_type", e.GrantType).Inc()
	}
}

// validate counts the outcome of every password check.
func (m *metrics) validate(next keystile.ValidateUserFunc) keystile.ValidateUserFunc {
	return func(ctx context.Context, username, password string) (keystile.Identity, error) {
		id, err := next(ctx, username, password)
		switch {
		case err == nil:
			m.signIns.counter("outcome", signInOK).Inc()
		case errors.Is(err, keystile.ErrInvalidCredentials):
			m.signIns.counter("outcome", signInBadCredentials).Inc()
		default:
			m.signIns.counter("outcome", signInError).Inc()
		}
		return id, err
	}
}

// serve serves /metrics on ln until ctx is done. It prints
// "keystile: metrics on http://ADDR/metrics" to stdout, as serveHTTP prints
// its listening line.
func (m *metrics) serve(ctx context.Context, ln net.Listener, log *slog.Logger, stdout io.Writer) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.write(w)
	})
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
