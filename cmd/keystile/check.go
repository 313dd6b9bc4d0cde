package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/keyfile"
	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
)

// runCheck is `keystile check --config FILE`: everything serve checks
// before it listens (the file, the users file, keys, the store, the
// clients, templates and logo), every problem in one list, and a one-screen
// summary when all is well. It creates nothing: a key file or SQLite
// database that serve would create is reported as such.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("check", flag.ContinueOnError)
	configPath, err := parseWithConfig(flags, args)
	if err != nil {
		return err
	}
	s, err := loadConfig(configPath, os.Getenv)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	tmp, err := os.MkdirTemp("", "keystile-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var problems []string
	sum := [][2]string{{"issuer", s.Issuer + " (listen " + s.Listen + ")"}}

	keys, note, err := checkSigningKeys(s, tmp, quiet)
	if err != nil {
		problems = append(problems, err.Error())
	}
	sum = append(sum, [2]string{"signing", note})
	idKey, note, err := checkIDTokenKey(s, tmp, quiet)
	if err != nil {
		problems = append(problems, err.Error())
	}
	sum = append(sum, [2]string{"ID tokens", note})

	st, note, err := checkStore(ctx, s.Store)
	if err != nil {
		problems = append(problems, err.Error())
		st = memory.New() // the other checks go on
	}
	defer st.Close()
	sum = append(sum, [2]string{"store", note})
	if s.KeysInStore {
		stored, note, err := checkStoredKeys(ctx, st, s, quiet)
		if err != nil {
			problems = append(problems, err.Error())
		} else if stored != nil {
			keys = stored
		}
		sum = append(sum, [2]string{"stored keys", note})
	}

	if keys != nil {
		if _, err := newServer(s, st, keys, idKey, newLiveUsers(s.Users), nil, quiet); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return &configError{file: configPath, problems: problems}
	}

	sum = append(sum,
		[2]string{"clients", clientSummary(s.Clients)},
		[2]string{"users", strings.TrimSpace(fmt.Sprintf("%d (%d disabled) %s", s.Users.Len(), s.Users.disabled(), inFile(s.UsersFile)))},
	)
	if s.TemplatesDir != "" || s.LogoFile != "" {
		sum = append(sum, [2]string{"pages", strings.TrimSpace(inFile(s.TemplatesDir) + inFile(s.LogoFile))})
	}
	fmt.Fprintf(stdout, "configuration %s is valid: keystile serve would start with\n", configPath)
	for _, line := range sum {
		fmt.Fprintf(stdout, "  %-10s %s\n", line[0], line[1])
	}
	warnings := append(append(s.Warnings, secretFileWarnings(s)...), startWarnings(s)...)
	if len(warnings) > 0 {
		fmt.Fprintf(stdout, "%d warning(s):\n", len(warnings))
		for _, w := range warnings {
			fmt.Fprintf(stdout, "  - %s\n", w)
		}
	}
	return nil
}

// checkSigningKeys loads the signing keys as serve would; a key file that
// does not exist yet is tried out with a new key in tmp instead.
func checkSigningKeys(s *settings, tmp string, log *slog.Logger) ([]keystile.SigningKey, string, error) {
	if s.Algorithm == keystile.AlgHS256 {
		keys, err := signingKeys(s, log)
		return keys, "HS256 secret " + inFile(s.SecretFile), err
	}
	if s.KeysInStore {
		// check creates nothing, in the store neither: a trial key stands
		// in for the store's to try the server out.
		_, k, err := keyfile.Generate(s.Algorithm, time.Now())
		return []keystile.SigningKey{k}, fmt.Sprintf("%s, kept in the store (rotated every %s, published %s before signing, sealed: %t)",
			s.Algorithm, s.StoreKeys.RotateEvery, s.StoreKeys.Prepublish, len(s.StoreKeys.Secret) > 0), err
	}
	if exists(s.KeyFile) {
		keys, err := signingKeys(s, log)
		if err != nil {
			return nil, s.KeyFile, err
		}
		return keys, fmt.Sprintf("%s, %d key(s) in %s, signer kid %s", s.Algorithm, len(keys), s.KeyFile, keys[0].KeyID()), nil
	}
	trial := *s
	trial.KeyFile = filepath.Join(tmp, "signing.pem")
	keys, err := signingKeys(&trial, log)
	return keys, fmt.Sprintf("%s, %s does not exist yet: serve creates it", s.Algorithm, s.KeyFile), err
}

// checkStoredKeys reads the signing keys already in the store, writing
// nothing, so that a key-encryption secret that does not open them is
// reported here rather than when serve refuses to start.
func checkStoredKeys(ctx context.Context, st store.Store, s *settings, log *slog.Logger) ([]keystile.SigningKey, string, error) {
	sk, ok := st.(store.SigningKeys)
	if !ok {
		return nil, "none yet: serve creates the first key", nil
	}
	k, err := newKeeper(sk, s, log)
	if err != nil {
		return nil, "", err
	}
	keys, err := k.Load(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("signing keys in the store: %w", err)
	}
	if len(keys) == 0 {
		return nil, "none yet: serve creates the first key", nil
	}
	return keys, fmt.Sprintf("%d key(s), all open with the configured secret; signer kid %s", len(keys), keys[0].KeyID()), nil
}

func checkIDTokenKey(s *settings, tmp string, log *slog.Logger) (keystile.SigningKey, string, error) {
	switch {
	case s.IDTokenKeyFile == "":
		return keystile.SigningKey{}, "signed by the signing key", nil
	case exists(s.IDTokenKeyFile):
		k, err := loadIDTokenKey(s.IDTokenKeyFile, log)
		return k, "RS256 key in " + s.IDTokenKeyFile, err
	}
	k, err := loadIDTokenKey(filepath.Join(tmp, "id-token.pem"), log)
	return k, s.IDTokenKeyFile + " does not exist yet: serve creates it", err
}

// checkStore opens the store as serve would, which brings an existing
// database's schema up to date; a SQLite file that does not exist yet is
// left for serve to create, once its directory is known to exist.
func checkStore(ctx context.Context, spec storeSpec) (store.Store, string, error) {
	switch {
	case spec.Kind == "postgres":
		st, err := openStore(ctx, spec, nil)
		return st, "PostgreSQL, reachable, schema up to date", err
	case spec.Kind == "sqlite" && !exists(sqliteFile(spec.Path)):
		dir := filepath.Dir(sqliteFile(spec.Path))
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, "", fmt.Errorf("store: directory %s does not exist", dir)
		}
		return memory.New(), "SQLite " + spec.Path + " does not exist yet: serve creates it", nil
	case spec.Kind == "sqlite":
		st, err := openStore(ctx, spec, nil)
		return st, "SQLite " + spec.Path + ", schema up to date", err
	}
	st, err := openStore(ctx, spec, nil)
	return st, "memory (lost at every restart)", err
}

// startWarnings are the warnings serve logs at start about what the
// configuration leaves out.
func startWarnings(s *settings) []string {
	var w []string
	if s.Store.Kind == "memory" {
		w = append(w, "the store is memory: pending logins and codes are lost at every restart, and replicas cannot share it")
	}
	if s.Users.Len() == 0 {
		w = append(w, "no users are configured (users_file): nobody can sign in; client credentials still work")
	}
	return w
}

func clientSummary(clients []keystile.Client) string {
	names := make([]string, len(clients))
	for i, c := range clients {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		names[i] = c.ID + " (" + kind + ")"
	}
	return fmt.Sprintf("%d: %s", len(clients), strings.Join(names, ", "))
}

func inFile(path string) string {
	if path == "" {
		return ""
	}
	return "from " + path + " "
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
