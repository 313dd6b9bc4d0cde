package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/keyfile"
	"github.com/keystile/keystile/password"
)

// Quickstart settings. The files go in --dir, the working directory by
// default, so that a second start keeps the signing key (tokens from the
// last run still verify) and shows where the state lives.
const (
	quickstartListen   = "127.0.0.1:9000"
	quickstartDB       = "keystile-quickstart.db"
	quickstartKey      = "keystile-quickstart-key.pem"
	quickstartClientID = "demo"
	quickstartUsername = "demo"
)

// runQuickstart is `keystile` with no arguments: a server for trying
// Keystile out in a browser. It listens on loopback only, and its demo
// user's password is new at every start, shown once in the banner and kept
// only as a hash in memory (demoValidator). Request lines are not logged
// unless --log-requests asks, so the banner stays on screen.
func runQuickstart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	defListen := os.Getenv("KEYSTILE_LISTEN")
	if defListen == "" {
		defListen = quickstartListen
	}
	listen := fs.String("listen", defListen, "loopback HOST:PORT to listen on")
	dir := fs.String("dir", ".", "directory for the quickstart's database and signing key")
	logRequests := fs.Bool("log-requests", false, "log one line per request (off, so that the password stays in view)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !withSQLite {
		// Before the signing key is made: nothing is left behind.
		return fmt.Errorf("the quickstart keeps its data in SQLite: %w", storeLeftOut("SQLite", "nosqlite"))
	}
	if err := requireLoopback(*listen, "the quickstart"); err != nil {
		return err
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--dir %s is not a directory", *dir)
	}
	log, flushLog := newLogger(stderr, slog.LevelInfo, defaultLogFlush)
	defer flushLog()

	keyPath := filepath.Join(*dir, quickstartKey)
	keys, _, err := keyfile.LoadOrCreate(keyPath, keystile.AlgRS256)
	if err != nil {
		return fmt.Errorf("signing key %s: %w", keyPath, err)
	}
	dbPath := filepath.Join(*dir, quickstartDB)
	st, err := openSQLite(ctx, dbPath, log)
	if err != nil {
		return fmt.Errorf("opening the SQLite store %s: %w", dbPath, err)
	}
	defer st.Close()

	demoPassword, err := newDemoPassword()
	if err != nil {
		return err
	}
	users := newUserDB()
	users.add(userEntry{
		Username: quickstartUsername,
		Subject:  quickstartUsername,
		Claims: map[string]any{
			"name":               "Demo User",
			"preferred_username": quickstartUsername,
			"email":              "demo@example.com",
		},
	})

	// Listen before building the server: with port 0 the issuer needs the
	// port the system chose.
	ln, err := listenTCP(*listen)
	if err != nil {
		return err
	}
	issuer := "http://" + ln.Addr().String()
	srv, err := keystile.New(keystile.Config{
		Issuer: issuer,
		Clients: []keystile.Client{{
			ID:           quickstartClientID,
			Name:         "Keystile demo page",
			Public:       true,
			RedirectURIs: []string{issuer + "/demo/"},
			// The demo page is on the issuer's own origin; listing it shows
			// where a single-page app on another origin goes.
			AllowedOrigins:         []string{issuer},
			PostLogoutRedirectURIs: []string{issuer + "/demo/"},
			Scopes:                 []string{"openid", "profile", "email"},
		}},
		Store:        st,
		Keys:         keys,
		ValidateUser: demoValidator(demoPassword, users),
		LookupUser:   users.lookup,
		Branding:     keystile.Branding{ProductName: "Keystile quickstart"},
		Logger:       log,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("starting the quickstart server: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", http.RedirectHandler("/demo/", http.StatusFound))
	mux.Handle("GET /demo/", demoHandler())
	mux.Handle("/", srv.Handler())

	printBanner(stdout, issuer, demoPassword, *dir)
	h := loopbackHostOnly(ln, mux)
	if *logRequests {
		h = accessLog(log, h)
	}
	return serveHTTP(ctx, ln, h, st, log, stdout)
}

// demoValidator checks the demo user's password. The password is 120
// random bits made at start and kept in memory only, so what protects
// human-chosen passwords adds nothing here: no dictionary holds it, and a
// leaked hash could not be reversed. It is kept as its SHA-256 and compared
// in constant time, like a client secret; an argon2id hash at the default
// settings cost 64 MiB at every start, most of the quickstart's memory.
func demoValidator(demoPassword string, users *userDB) keystile.ValidateUserFunc {
	hash := password.HashClientSecret(demoPassword)
	return func(ctx context.Context, username, pw string) (keystile.Identity, error) {
		if !password.CheckClientSecret(ctx, hash, pw) || username != quickstartUsername {
			return keystile.Identity{}, keystile.ErrInvalidCredentials
		}
		return users.lookup(ctx, quickstartUsername)
	}
}

// newDemoPassword returns 120 random bits, base64url: 20 characters that
// survive copying from a terminal.
func newDemoPassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the demo password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func printBanner(w io.Writer, issuer, password, dir string) {
	const rule = "======================================================================"
	fmt.Fprintf(w, `%[1]s
  KEYSTILE QUICKSTART: for trying Keystile out. NOT FOR PRODUCTION.
%[1]s
  Demo page:   %[2]s/demo/
  Discovery:   %[2]s/.well-known/openid-configuration
  JWKS:        %[2]s/.well-known/jwks.json

  Sign in on the demo page with
    username:  %[3]s
    password:  %[4]s
  The password is new at every start and is shown only here.

  Demo client: %[5]s (public, PKCE S256), redirect URI %[2]s/demo/
  Files:       %[6]s, %[7]s

  For real use, write a configuration file (see 'keystile help') and run
    keystile serve --config keystile.yaml
  with users from 'keystile hash-password' and clients from
  'keystile client-secret'.
%[1]s
`, rule, issuer, quickstartUsername, password, quickstartClientID,
		filepath.Join(dir, quickstartDB), filepath.Join(dir, quickstartKey))
}
