package sqlite_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/sqlite"
	"github.com/keystile/keystile/store/storetest"
)

func openFile(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			return openFile(t, filepath.Join(t.TempDir(), "keystile.db"))
		})
	})
	t.Run("memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openFile(t, ":memory:") })
	})
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
	}
}

func request(name string) store.AuthRequest {
	return store.AuthRequest{
		IDHash:    []byte("request " + name),
		ClientID:  "spa",
		State:     "xyz",
		Scope:     []string{"openid"},
		ExpiresAt: exp,
	}
}

func TestReopenKeepsRecords(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keystile.db")

	s := openFile(t, path)
	for _, err := range []error{
		s.CreateAuthRequest(ctx, request("pending")),
		s.CreateCode(ctx, code("kept")),
		s.CreateCode(ctx, code("used")),
	} {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if _, err := s.ConsumeCode(ctx, code("used").Hash, t0); err != nil {
		t.Fatalf("ConsumeCode: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// The second Open finds the schema at its version: migrations are not
	// applied twice.
	s = openFile(t, path)
	defer s.Close()
	r, err := s.GetAuthRequest(ctx, request("pending").IDHash, t0)
	if err != nil {
		t.Fatalf("GetAuthRequest after reopen: %v", err)
	}
	if r.State != "xyz" || !r.ExpiresAt.Equal(exp) {
		t.Errorf("request after reopen = %+v", r)
	}
	c, err := s.ConsumeCode(ctx, code("kept").Hash, t0)
	if err != nil {
		t.Fatalf("ConsumeCode of the kept code after reopen: %v", err)
	}
	if c.Subject != "alice" || c.Claims["role"] != "admin" {
		t.Errorf("code after reopen = %+v", c)
	}
	if _, err := s.ConsumeCode(ctx, code("used").Hash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code consumed before reopen: err = %v, want ErrNotFound", err)
	}
}

// Two Stores on one file stand for two Keystile processes sharing it: a code
// is still redeemed once, and no loser sees SQLITE_BUSY.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keystile.db")
	a, b := openFile(t, path), openFile(t, path)
	defer a.Close()
	defer b.Close()

	const racers = 50
	for round := range 3 {
		c := code(string(rune('a' + round)))
		if err := a.CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		start := make(chan struct{})
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				<-start
				_, errs[i] = s.ConsumeCode(ctx, c.Hash, t0)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("a losing consume: err = %v, want ErrNotFound", err)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d of %d consumes won, want exactly 1", round, wins, racers)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
	}{
		{"empty path", ""},
		{"missing directory", filepath.Join(t.TempDir(), "no", "such", "dir", "keystile.db")},
		{"a directory", t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): err = nil, want an error", tc.path)
			}
		})
	}
}

func BenchmarkCreateConsumeCode(b *testing.B) {
	for _, bc := range []struct {
		name string
		path func(b *testing.B) string
	}{
		{"file", func(b *testing.B) string { return filepath.Join(b.TempDir(), "keystile.db") }},
		{"memory", func(*testing.B) string { return ":memory:" }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openFile(b, bc.path(b))
			defer s.Close()
			storetest.BenchCreateConsumeCode(b, s)
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			s := openFile(b, bc.path(b))
			defer s.Close()
			storetest.BenchCreateConsumeCodeParallel(b, s)
		})
	}
}
