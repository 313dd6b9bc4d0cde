// Command keystile-load drives a Keystile server on this machine with
// concurrent OAuth 2 requests and reports throughput and latency:
//
//	KEYSTILE_LOAD_CLIENT_SECRET=… keystile-load --issuer http://127.0.0.1:9000 \
//	    --mode client-credentials --client-id reports-bot --duration 10s --concurrency 8
//
// Modes (modes.go): client-credentials (RFC 6749 §4.4), pkce (the whole
// browser sign-in of RFC 6749 §4.1 with RFC 7636, one per iteration), refresh
// (rotating refresh tokens, RFC 6749 §6) and verify (the JWKS document, a
// baseline of what the HTTP stack alone costs).
//
// It only ever connects to loopback addresses. Load against other hosts is
// forbidden on this machine, and a typo in --issuer must not turn into a
// denial of service against somebody else's server. Secrets come from the
// environment, never from argv, which every user of the machine can read.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds on one run, so that a slip of the keyboard cannot pin the machine
// for an afternoon or open thousands of sockets.
const (
	maxDuration    = 5 * time.Minute
	maxConcurrency = 256
	// requestTimeout bounds one HTTP exchange. Keystile's own write timeout
	// is 30 s; a request slower than that is stuck, not slow.
	requestTimeout = 30 * time.Second
)

// The environment variables that carry secrets.
const (
	envClientSecret = "KEYSTILE_LOAD_CLIENT_SECRET"
	envPassword     = "KEYSTILE_LOAD_PASSWORD"
)

// options is one run, checked.
type options struct {
	issuer       string // no trailing slash
	mode         string
	duration     time.Duration
	concurrency  int
	clientID     string
	clientSecret string // from envClientSecret; empty for a public client
	redirectURI  string
	usernames    []string // worker i signs in as usernames[i % len]
	password     string   // from envPassword
	scope        string   // empty: the scope parameter is left out
	tokenPath    string   // the token endpoint, below the issuer; "/token" by default
	iterations   int64    // stop after this many iterations in all; 0: only the duration bounds the run
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "keystile-load:", err)
		os.Exit(1)
	}
}

// run parses args, drives the load and prints the report to stdout. It fails
// when the options are wrong, when a worker cannot be set up, or when not a
// single request succeeded (a report of nothing but errors is a
// misconfiguration, not a measurement).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	res, err := load(ctx, o)
	if err != nil {
		return err
	}
	if err := res.print(stdout); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if res.rec.succeeded() == 0 {
		return errors.New("no request succeeded; see the errors above")
	}
	return nil
}

// parseOptions reads the flags and the secrets, and checks everything a run
// needs before it sends a single request.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("keystile-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	issuer := fs.String("issuer", "", "the Keystile issuer URL; its host must be loopback (127.0.0.0/8, ::1, localhost)")
	fs.StringVar(&o.mode, "mode", "", "one of "+strings.Join(modeNames, ", "))
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send requests (at most "+maxDuration.String()+")")
	fs.IntVar(&o.concurrency, "concurrency", 1, fmt.Sprintf("workers sending requests at once (at most %d)", maxConcurrency))
	fs.StringVar(&o.clientID, "client-id", "", "the client: a service account for client-credentials, a client with a redirect URI for pkce and refresh")
	fs.StringVar(&o.redirectURI, "redirect-uri", "", "pkce, refresh: a redirect URI registered for the client (never contacted)")
	username := fs.String("username", "", "pkce, refresh: the user who signs in, or several, comma-separated, all with the one password (worker i is the (i mod n)-th)")
	fs.StringVar(&o.scope, "scope", "", "the scope to request (default: none, so the server's default)")
	// Other servers put the token endpoint elsewhere (zitadel/oidc: /oauth/token);
	// the side-by-side benchmark (bench/run.sh) drives them with this command too.
	fs.StringVar(&o.tokenPath, "token-path", "/token", "the token endpoint's path below the issuer")
	fs.Int64Var(&o.iterations, "iterations", 0, "stop after this many iterations (requests, or sign-ins in pkce mode) across all workers, or at --duration, whichever comes first; 0: no count")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: keystile-load --issuer http://127.0.0.1:PORT --mode MODE [flags]\n\n"+
			"Secrets come from the environment: %s (the client secret; unset for a public client)\n"+
			"and %s (the user's password, for pkce and refresh).\n\n", envClientSecret, envPassword)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (secrets go in %s and %s, never on the command line)", fs.Arg(0), envClientSecret, envPassword)
	}
	var err error
	if o.issuer, err = checkIssuer(*issuer); err != nil {
		return o, err
	}
	if !slices.Contains(modeNames, o.mode) {
		return o, fmt.Errorf("--mode %q: want one of %s", o.mode, strings.Join(modeNames, ", "))
	}
	if o.duration <= 0 || o.duration > maxDuration {
		return o, fmt.Errorf("--duration %s: want more than 0 and at most %s", o.duration, maxDuration)
	}
	if o.concurrency < 1 || o.concurrency > maxConcurrency {
		return o, fmt.Errorf("--concurrency %d: want 1 to %d", o.concurrency, maxConcurrency)
	}
	if !strings.HasPrefix(o.tokenPath, "/") || strings.ContainsAny(o.tokenPath, "?#") {
		return o, fmt.Errorf("--token-path %q: want a path that starts with /", o.tokenPath)
	}
	if o.iterations < 0 {
		return o, fmt.Errorf("--iterations %d: want 0 (no count) or more", o.iterations)
	}
	for _, u := range strings.Split(*username, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.usernames = append(o.usernames, u)
		}
	}
	o.clientSecret = getenv(envClientSecret)
	o.password = getenv(envPassword)
	var missing []string
	need := func(ok bool, what string) {
		if !ok {
			missing = append(missing, what)
		}
	}
	switch o.mode {
	case "client-credentials":
		need(o.clientID != "", "--client-id")
		need(o.clientSecret != "", envClientSecret)
	case "pkce", "refresh":
		need(o.clientID != "", "--client-id")
		need(o.redirectURI != "", "--redirect-uri")
		need(len(o.usernames) > 0, "--username")
		need(o.password != "", envPassword)
	}
	if len(missing) > 0 {
		return o, fmt.Errorf("--mode %s needs %s", o.mode, strings.Join(missing, ", "))
	}
	return o, nil
}

// checkIssuer accepts an http or https URL whose host is a loopback address,
// and returns it without a trailing slash. A name other than localhost is
// refused even if it resolves to loopback today: what it resolves to can
// change between this check and the first request.
func checkIssuer(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("--issuer is required, e.g. http://127.0.0.1:9000")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("--issuer: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("--issuer %q: want an http or https URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--issuer %q: an issuer has no user information, query or fragment", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("--issuer %q: host %q is not a loopback address (127.0.0.0/8, ::1, localhost); this machine's policy forbids load against any other", raw, u.Hostname())
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP
// literal. An IPv4-mapped IPv6 address counts as the IPv4 address it maps.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// dialLoopbackOnly is a net.Dialer Control function: it sees the address
// actually being connected to, after name resolution, and refuses it unless
// it is loopback. This holds the policy even if localhost resolves
// elsewhere (a tampered /etc/hosts).
func dialLoopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("refusing to connect to %s: %w", address, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
	}
	return nil
}

// newTransport is tuned for load: one idle connection kept per worker (the
// default of 2 per host would make most workers dial a new connection for
// every request and measure TCP set-up instead of Keystile), and no
// compression (the answers are small; gzip would measure this client).
func newTransport(concurrency int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: dialLoopbackOnly}
	return &http.Transport{
		Proxy:                 nil, // never through a proxy: it would not be loopback
		DialContext:           d.DialContext,
		MaxIdleConns:          concurrency,
		MaxIdleConnsPerHost:   concurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: requestTimeout,
		DisableCompression:    true,
	}
}

// load sets up one worker per --concurrency, then lets them all loop until
// the duration is over, or until --iterations have started. An iteration
// under way at the deadline is finished, not cut off, so elapsed (and so
// req/s) covers every request counted.
func load(ctx context.Context, o options) (*results, error) {
	tr := newTransport(o.concurrency)
	defer tr.CloseIdleConnections()
	t := newTarget(o, tr)

	// Set-up (the refresh mode signs in here) is not measured.
	workers := make([]worker, o.concurrency)
	errs := make([]error, o.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { workers[i], errs[i] = t.newWorker(ctx, i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("setting up the workers: %w", err)
	}

	recs := make([]*recorder, o.concurrency)
	// started counts the iterations handed out, so that --iterations N runs
	// exactly N (a burst of N sign-ins, say), whichever worker runs them.
	var started atomic.Int64
	start := time.Now()
	deadline := start.Add(o.duration)
	for i, w := range workers {
		recs[i] = newRecorder()
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if o.iterations > 0 && started.Add(1) > o.iterations {
					return
				}
				w(ctx, recs[i])
			}
		})
	}
	wg.Wait()
	res := &results{o: o, elapsed: time.Since(start), rec: newRecorder()}
	for _, r := range recs {
		res.rec.merge(r)
	}
	return res, nil
}
