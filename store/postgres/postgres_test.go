package postgres_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/postgres"
	"github.com/keystile/keystile/store/postgres/postgrestest"
	"github.com/keystile/keystile/store/storetest"
)

func open(tb testing.TB, url string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), url)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

// Each subtest gets a schema of its own, migrated from nothing.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, postgrestest.URL(t)) })
}

var (
	t0  = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	exp = t0.Add(time.Minute)
)

func code(name string) store.AuthCode {
	return store.AuthCode{
		Hash:      []byte("code " + name),
		ClientID:  "spa",
		Subject:   "alice",
		Claims:    map[string]any{"role": "admin"},
		Scope:     []string{"openid"},
		AuthTime:  t0,
		ExpiresAt: exp,
		FamilyID:  "family of code " + name,
	}
}

// noToken is a redemption's issue that accepts the code and issues no
// refresh token: the tests here only need the code marked used.
func noToken(store.AuthCode) (*store.RefreshToken, error) { return nil, nil }

// Two Stores on one database stand for two Keystile replicas, or one
// restarted.
func TestTwoReplicas(t *testing.T) {
	newSchema := func(t *testing.T) string { return postgrestest.URL(t) }
	storetest.RunShared(t, newSchema, func(t *testing.T, url string) store.Store { return open(t, url) })
}

// Replicas starting together race to migrate one empty database: the
// advisory lock lets one apply the schema and the others find it done, so
// every Open succeeds and the migration is recorded once.
func TestConcurrentOpen(t *testing.T) {
	url := postgrestest.URL(t)
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		defer stores[i].Close()
	}

	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("pgx.Connect: %v", err)
	}
	defer conn.Close(t.Context())
	var applied int
	if err := conn.QueryRow(t.Context(),
		`SELECT count(*) FROM keystile_goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatalf("read the migration history: %v", err)
	}
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("list the migrations: %v (%d files)", err, len(files))
	}
	if applied != len(files) {
		t.Errorf("the migration history has %d entries, want %d (each migration applied once)", applied, len(files))
	}

	// They share one schema: what one replica writes, another reads.
	c := code("shared")
	if err := stores[0].CreateCode(t.Context(), c); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	if _, err := stores[replicas-1].RedeemCode(t.Context(), c.Hash, t0, noToken); err != nil {
		t.Errorf("RedeemCode on another replica: %v", err)
	}
}

// An operator rolling back a release runs the migrations down; the next
// Open brings the schema back, empty, and it works.
func TestMigrateDownAndUp(t *testing.T) {
	ctx := t.Context()
	url := postgrestest.URL(t)
	s := open(t, url)
	if err := s.CreateCode(ctx, code("before")); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	s.Close()

	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgx.ParseConfig: %v", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"),
		goose.WithDisableGlobalRegistry(true), goose.WithTableName("keystile_goose_db_version"))
	if err != nil {
		t.Fatalf("goose.NewProvider: %v", err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("migrate down to 0: %v", err)
	}

	s = open(t, url)
	defer s.Close()
	if _, err := s.RedeemCode(ctx, code("before").Hash, t0, noToken); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a code from before the rollback: err = %v, want ErrNotFound", err)
	}
	if err := s.CreateCode(ctx, code("after")); err != nil {
		t.Fatalf("CreateCode after down and up: %v", err)
	}
	if _, err := s.RedeemCode(ctx, code("after").Hash, t0, noToken); err != nil {
		t.Errorf("RedeemCode after down and up: %v", err)
	}
}

// A database URL may hold a password: no error from Open repeats it.
func TestOpenErrors(t *testing.T) {
	const password = "s3cr3t-pw"
	for _, tc := range []struct {
		name, url, want string
	}{
		{"empty URL", "", "empty database URL"},
		{"malformed URL", "postgres://keystile:" + password + "@db.internal:notaport/keystile", "cannot be parsed"},
		{"malformed key=value list", "host=127.0.0.1 password='" + password, "cannot be parsed"},
		{"nothing listening", "postgres://keystile:" + password + "@127.0.0.1:1/keystile?connect_timeout=5", "postgres: open:"},
		{"unknown database", withParam(postgrestest.URL(t), "dbname", "keystile_no_such_database"), "keystile_no_such_database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(t.Context(), tc.url)
			if err == nil {
				s.Close()
				t.Fatal("Open: err = nil, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: err = %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("Open: err = %v, which repeats the password", err)
			}
		})
	}
}

// withParam adds key=value to a connection string in either libpq form; a
// later setting overrides an earlier one in both.
func withParam(conn, key, value string) string {
	if strings.Contains(conn, "://") {
		return conn + "&" + key + "=" + value
	}
	return conn + " " + key + "=" + value
}

func BenchmarkCreateConsumeCode(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s := open(b, postgrestest.URL(b))
		defer s.Close()
		storetest.BenchCreateConsumeCode(b, s)
	})
	b.Run("parallel", func(b *testing.B) {
		s := open(b, postgrestest.URL(b))
		defer s.Close()
		storetest.BenchCreateConsumeCodeParallel(b, s)
	})
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	s := open(b, postgrestest.URL(b))
	defer s.Close()
	storetest.BenchRotateRefreshToken(b, s)
}

func BenchmarkSignIn(b *testing.B) {
	for _, separate := range []bool{true, false} {
		b.Run(map[bool]string{true: "separate", false: "one-step"}[separate], func(b *testing.B) {
			s := open(b, postgrestest.URL(b))
			defer s.Close()
			storetest.BenchSignIn(b, s, separate)
		})
	}
}

func BenchmarkExchange(b *testing.B) {
	for _, separate := range []bool{true, false} {
		b.Run(map[bool]string{true: "separate", false: "one-step"}[separate], func(b *testing.B) {
			s := open(b, postgrestest.URL(b))
			defer s.Close()
			storetest.BenchExchange(b, s, separate)
		})
	}
}

func BenchmarkRecordFailure(b *testing.B) {
	s := open(b, postgrestest.URL(b))
	defer s.Close()
	storetest.BenchRecordFailure(b, s)
}
