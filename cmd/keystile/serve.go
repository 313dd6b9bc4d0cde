package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/storekeys"
	"github.com/keystile/keystile/keyfile"
	"github.com/keystile/keystile/store/memory"
)

// runServe is `keystile serve --config FILE`: the server for real use.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := flags.String("listen", "", "HOST:PORT to listen on, over listen and KEYSTILE_LISTEN")
	configPath, err := parseWithConfig(flags, args)
	if err != nil {
		return err
	}
	s, err := loadConfigListen(configPath, os.Getenv, *listen)
	if err != nil {
		return err
	}
	log, flushLog := newLogger(stderr, s.LogLevel, s.LogFlush)
	defer flushLog() // last: the lines of the shutdown are written
	for _, w := range s.Warnings {
		log.Warn(w)
	}

	opened, err := openStore(ctx, s.Store, log)
	if err != nil {
		return err
	}
	defer opened.Close()
	var keeper *storekeys.Keeper
	m := newMetrics(func() float64 { return time.Since(keyBirth(s, keeper)).Seconds() })
	st := measure(opened, m)
	var keys []keystile.SigningKey
	if s.KeysInStore {
		keeper, keys, err = storeSigningKeys(ctx, st, s, log)
	} else {
		keys, err = signingKeys(s, log)
	}
	if err != nil {
		return err
	}
	key := keys[0]
	idTokenKey, err := loadIDTokenKey(s.IDTokenKeyFile, log)
	if err != nil {
		return err
	}
	// After the files exist: the key file and the database may be new.
	for _, w := range secretFileWarnings(s) {
		log.Warn(w)
	}
	for _, w := range startWarnings(s) {
		log.Warn(w)
	}
	warnOtherHashSettings(s.Users, log)
	users := newLiveUsers(s.Users)

	srv, err := newServer(s, st, keys, idTokenKey, users, m, log)
	if err != nil {
		return fmt.Errorf("configuration %s: %w", configPath, err)
	}
	handler, err := mountAtIssuer(s.Issuer, m.wrap(srv.Handler()))
	if err != nil {
		return err
	}

	if s.PIDFile != "" {
		release, err := holdPIDFile(s.PIDFile)
		if err != nil {
			return err
		}
		defer release()
	}
	ln, err := listenTCP(s.Listen)
	if err != nil {
		return err
	}
	// Always: SIGHUP's default action ends the process, so a server that
	// did not catch it would die at the first reload an operator asks for.
	hupCtx, stopHup := context.WithCancel(ctx)
	defer stopHup()
	reloadOnHangup(hupCtx, func() { reload(srv, users, s, configPath, log) })
	if keeper != nil {
		go keeper.Run(hupCtx, srv.SetKeys)
	}
	// Until the feed's first read of the deny-list, and whenever it is
	// down, verifications read the store: serving need not wait for it.
	go srv.FollowRevocations(hupCtx)
	log.Info("keystile started", "issuer", s.Issuer, "store", s.Store.Kind, "algorithm", key.Algorithm(),
		"kid", key.KeyID(), "clients", len(s.Clients), "users", s.Users.Len())
	if s.MetricsListen != "" {
		mln, err := net.Listen("tcp", s.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listening for metrics: %w", err)
		}
		go m.serve(hupCtx, mln, log, stdout)
	}
	hc := newHealth(st.Ping, func() bool { return true }, log)
	return serveHTTP(hc.drainAfter(ctx, s.DrainDelay), ln, accessLog(log, hc.wrap(handler)), st, log, stdout)
}

// signingKeys returns the keys the server starts with: the entries of the
// key file, newest (the signer) first, or the HS256 secret alone. A missing
// key file is created with one new key of the configured algorithm.
func signingKeys(s *settings, log *slog.Logger) ([]keystile.SigningKey, error) {
	if s.Algorithm == keystile.AlgHS256 {
		k, err := keystile.NewSigningKey(s.HS256Secret)
		if err != nil {
			return nil, fmt.Errorf("HS256 secret: %w", err)
		}
		return []keystile.SigningKey{k}, nil
	}
	keys, created, err := keyfile.LoadOrCreate(s.KeyFile, s.Algorithm)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created a signing key file", "path", s.KeyFile, "algorithm", s.Algorithm)
	}
	if got := keys[0].Algorithm(); got != s.Algorithm {
		return nil, fmt.Errorf("signing.algorithm is %s, but the signing key in %s is %s", s.Algorithm, s.KeyFile, got)
	}
	return keys, nil
}

// loadIDTokenKey reads the key that signs ID tokens, creating the file with
// a new 2048-bit RSA key if it is missing; with no path, it returns the zero
// key, and the signing key signs ID tokens.
func loadIDTokenKey(path string, log *slog.Logger) (keystile.SigningKey, error) {
	if path == "" {
		return keystile.SigningKey{}, nil
	}
	keys, created, err := keyfile.LoadOrCreate(path, keystile.AlgRS256)
	if err != nil {
		return keystile.SigningKey{}, fmt.Errorf("ID token key %s: %w", path, err)
	}
	if created {
		log.Info("created an ID token key file", "path", path, "algorithm", keystile.AlgRS256)
	}
	return keys[0], nil
}

// reloadOnHangup calls reload whenever the process gets SIGHUP, until ctx
// is done: how `keystile rotate-key` and an edited users file reach a
// running server without a restart.
func reloadOnHangup(ctx context.Context, reload func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload()
			}
		}
	}()
}

// reload re-reads the clients of the configuration file, the key file and
// the users file. Each is checked in full before it replaces what the
// server uses, and one that cannot be used leaves the server as it was.
// Other settings (issuer, listen, store, lifetimes…) need a restart. An
// HS256 secret is not reloaded: a new one would invalidate every token at
// once, which deserves a restart.
func reload(srv *keystile.Server, users *liveUsers, s *settings, configPath string, log *slog.Logger) {
	reloadClients(srv, s, configPath, log)
	switch {
	case s.Algorithm == keystile.AlgHS256:
		log.Info("SIGHUP: the HS256 secret is not reloaded; restart the server to change it")
	case s.KeysInStore:
		log.Info("SIGHUP: the signing keys come from the store, which is read again every signing.refresh_every")
	default:
		_ = reloadKeys(srv, s, log)
	}
	if s.UsersFile == "" {
		log.Info("SIGHUP: no users_file to reload")
		return
	}
	_ = reloadUsers(users, s.UsersFile, s.Clients, log)
}

// reloadClients reads the configuration file again and gives the server its
// clients. A file that does not load, or clients the library refuses, keep
// the clients the server has, and the log says why. s.Clients follows, so
// that the users file is checked against the clients in use.
func reloadClients(srv *keystile.Server, s *settings, configPath string, log *slog.Logger) {
	next, err := loadConfig(configPath, os.Getenv)
	if err == nil {
		err = srv.SetClients(next.Clients)
	}
	if err != nil {
		log.Error("reloading the clients from the configuration failed; the clients are unchanged", "path", configPath, "err", err)
		return
	}
	s.Clients = next.Clients
	log.Info("reloaded the clients", "path", configPath, "clients", len(next.Clients))
}

// reloadUsers reloads the users file, logging the outcome in one line.
func reloadUsers(users *liveUsers, path string, clients []keystile.Client, log *slog.Logger) error {
	sum, err := users.reload(path, clients)
	if err != nil {
		log.Error("reloading the users file failed; the users are unchanged", "err", err)
		return err
	}
	log.Info("reloaded the users file", "path", path, "users", sum.Users, "disabled", sum.Disabled,
		"added", sum.Added, "removed", sum.Removed)
	if sum.Users == 0 {
		log.Warn("no users are configured (users_file): nobody can sign in; client credentials still work")
	}
	warnOtherHashSettings(users.db.Load(), log)
	return nil
}

// warnOtherHashSettings tells the operator about password hashes made with
// other argon2id parameters than keystile hash-password uses (migrated from
// another system): every sign-in then checks one hash per parameter set, so
// that timing does not tell which usernames exist, and costs that much
// more. The server never rewrites the users file, which is the operator's
// configuration (docs/decisions.md): new hashes are theirs to make.
func warnOtherHashSettings(db *userDB, log *slog.Logger) {
	users, sets := db.otherSettings()
	if users == 0 {
		return
	}
	log.Warn("some password hashes have other argon2id parameters than keystile hash-password makes; "+
		"every sign-in checks one hash per parameter set so that its time does not tell which usernames exist: "+
		"make their hashes again with keystile hash-password", "users", users, "parameter_sets", sets)
}

func reloadKeys(srv *keystile.Server, s *settings, log *slog.Logger) error {
	keys, err := keyfile.Load(s.KeyFile)
	if err == nil && keys[0].Algorithm() != s.Algorithm {
		err = fmt.Errorf("the signing key in %s is %s, not %s", s.KeyFile, keys[0].Algorithm(), s.Algorithm)
	}
	if err == nil {
		err = srv.SetKeys(keys)
	}
	if err != nil {
		log.Error("reloading the key file failed; the keys are unchanged", "err", err)
		return err
	}
	log.Info("reloaded the key file", "kid", keys[0].KeyID(), "keys", len(keys))
	return nil
}

// openStore opens the store that spec names; log receives what the store
// reports from the background (nil: slog.Default()).
func openStore(ctx context.Context, spec storeSpec, log *slog.Logger) (sharedStore, error) {
	switch spec.Kind {
	case "sqlite":
		st, err := openSQLite(ctx, spec.Path, log)
		if err != nil {
			return nil, fmt.Errorf("opening the SQLite store %s: %w", spec.Path, err)
		}
		return st, nil
	case "postgres":
		// Not the URL: it may hold a password. postgres.Open's errors
		// leave it out too.
		st, err := openPostgres(ctx, spec.URL)
		if err != nil {
			return nil, fmt.Errorf("opening the PostgreSQL store: %w", err)
		}
		return st, nil
	case "memory":
		return memory.New(), nil
	default: // parseStoreSpec refused it already
		return nil, fmt.Errorf("store kind %q is not supported", spec.Kind)
	}
}

// mountAtIssuer serves h under the issuer's path, so that an issuer of
// https://example.com/auth answers at /auth/token (RFC 8414 §3 puts the
// metadata of such an issuer at /auth/.well-known/…, below the same prefix).
func mountAtIssuer(issuer string, h http.Handler) (http.Handler, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer %q: %w", issuer, err)
	}
	prefix := strings.TrimSuffix(u.Path, "/")
	if prefix == "" {
		return h, nil
	}
	strip := http.StripPrefix(prefix, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			http.NotFound(w, r)
			return
		}
		strip.ServeHTTP(w, r)
	}), nil
}

// newLogger logs JSON for log collectors, or text when w is a terminal and a
// person reads it. Request lines in JSON wait up to flushEvery to be
// written together (logWriter; 0 writes each at once); flush writes them
// now, and must run before the command returns.
func newLogger(w io.Writer, level slog.Leveler, flushEvery time.Duration) (log *slog.Logger, flush func()) {
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts)), func() {}
	}
	j := newJSONLog(w, opts, flushEvery) // access_log_line.go
	return slog.New(j), func() { _ = j.out.flush() }
}
