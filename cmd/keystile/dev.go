package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/check"
	"github.com/keystile/keystile/internal/hook"
	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
)

// devBanner is the product name on every page of the development server,
// and the first line it prints.
const devBanner = "DEVELOPMENT SERVER (keystile dev), not for production"

const helpDev = `Usage:
  keystile dev [--listen ADDR] [--user NAME] [--claim NAME=VALUE]...

Start a DEVELOPMENT server for apps under development, on loopback only
(http://127.0.0.1:9000 unless --listen says otherwise): every sign-in is
--user (default alice) with the --claim claims, without a password (switch
user and claims at its page); any client id is accepted as a public client
with any loopback redirect URI and origin. Nothing is kept after it stops.
Never for production: use keystile serve.

Examples:
  keystile dev
  keystile dev --user alice --claim role=admin --claim team=blue
`

// devServer is `keystile dev`: the real server with a memory store, a
// fresh key, no passwords (every sign-in is the chosen user, through
// internal/hook) and any client id with any loopback redirect URI (clients
// are registered as apps use them; see dev_clients.go).
type devServer struct {
	issuer string
	store  store.Store
	keys   []keystile.SigningKey
	log    *slog.Logger

	mu      sync.Mutex
	user    string
	claims  map[string]any
	clients map[string]keystile.Client
	handler atomic.Pointer[http.Handler] // the current keystile.Server's
}

// runDev runs `keystile dev [--listen ADDR] [--user NAME] [--claim K=V]…`.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	listen := fs.String("listen", quickstartListen, "loopback HOST:PORT to listen on")
	user := fs.String("user", "alice", "the user every sign-in is")
	claims := map[string]any{}
	fs.Func("claim", "a claim of the user, NAME=VALUE (repeatable)", func(kv string) error {
		return addClaim(claims, kv)
	})
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := requireLoopback(*listen, "keystile dev"); err != nil {
		return err
	}
	if err := checkSubject(*user); err != nil {
		return usageError{"--user: " + err.Error()}
	}
	log, flushLog := newLogger(stderr, slog.LevelInfo, defaultLogFlush)
	defer flushLog()
	ln, err := listenTCP(*listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	key, err := keystile.NewSigningKey(priv)
	if err != nil {
		return err
	}
	d := &devServer{
		issuer:  "http://" + ln.Addr().String(),
		store:   memory.New(),
		keys:    []keystile.SigningKey{key},
		log:     log,
		user:    *user,
		claims:  claims,
		clients: map[string]keystile.Client{},
	}
	if err := d.rebuild(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "keystile dev: %s\n", devBanner)
	fmt.Fprintf(stdout, "keystile dev: every sign-in is %q without a password; any client id with any loopback redirect URI is accepted.\n", *user)
	fmt.Fprintf(stdout, "keystile dev: switch the user at %s/ ; nothing is kept after it stops. For real use: keystile serve.\n", d.issuer)
	return serveHTTP(ctx, ln, accessLog(log, loopbackHostOnly(ln, d.routes())), d.store, log, stdout)
}

// requireLoopback refuses to listen beyond loopback: what a quickstart or
// a development server serves must not be reachable from the network.
func requireLoopback(listen, who string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usageError{fmt.Sprintf("--listen %q is not HOST:PORT", listen)}
	}
	if !check.LoopbackHost(host) {
		return usageError{fmt.Sprintf("--listen %q: %s listens on loopback only (127.0.0.1, [::1] or localhost); for anything else use keystile serve", listen, who)}
	}
	return nil
}

// routes: the development page and the user switch, then the server.
func (d *devServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.handlePage)
	mux.Handle("POST /dev/user", http.NewCrossOriginProtection().Handler(http.HandlerFunc(d.handleSwitch)))
	mux.Handle("/", d.registerClients(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*d.handler.Load()).ServeHTTP(w, r)
	})))
	return mux
}

// identity is the chosen user, for hook.SetSignIn.
func (d *devServer) identity(context.Context) (string, map[string]any, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.user, cloneClaims(d.claims), nil
}

// rebuild makes a keystile.Server for the current clients, on the same
// store and key, so that codes, tokens and the JWKS survive it. The
// caller holds d.mu, or is runDev before serving.
func (d *devServer) rebuild() error {
	clients := make([]keystile.Client, 0, len(d.clients))
	for _, c := range d.clients {
		clients = append(clients, c)
	}
	srv, err := keystile.New(keystile.Config{
		Issuer:       d.issuer,
		Clients:      clients,
		Store:        d.store,
		Keys:         d.keys,
		ValidateUser: noPasswords,
		// No single sign-on: every sign-in is whoever is chosen now.
		SessionTTL:    -1,
		LoginThrottle: keystile.LoginThrottle{Disabled: true},
		Branding:      keystile.Branding{ProductName: devBanner},
		Logger:        d.log,
	})
	if err != nil {
		return err
	}
	hook.SetSignIn(srv, d.identity)
	h := srv.Handler()
	d.handler.Store(&h)
	return nil
}

// noPasswords is never asked on a development server (every sign-in is
// the chosen user); it refuses, to be safe.
func noPasswords(context.Context, string, string) (keystile.Identity, error) {
	return keystile.Identity{}, keystile.ErrInvalidCredentials
}

// addClaim parses NAME=VALUE into claims; a registered claim is refused,
// as in the users file.
func addClaim(claims map[string]any, kv string) error {
	name, value, ok := strings.Cut(kv, "=")
	name = strings.TrimSpace(name)
	switch {
	case !ok || name == "":
		return fmt.Errorf("%q is not NAME=VALUE", kv)
	case keystile.IsRegisteredClaim(name):
		return fmt.Errorf("%q is a registered claim, which Keystile sets itself", name)
	}
	claims[name] = strings.TrimSpace(value)
	return nil
}

func checkSubject(s string) error {
	if s == "" || len(s) > 256 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%q must be 1 to 256 characters without control characters", s)
	}
	return nil
}
