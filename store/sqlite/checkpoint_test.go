package sqlite

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// smallCheckpoints makes the WAL limits small enough for a test to pass
// them many times over.
var smallCheckpoints = checkpointConfig{delay: time.Millisecond, limitPages: 64, maxPages: 256}

func openSmall(t *testing.T, path string, cfg checkpointConfig) *Store {
	t.Helper()
	s, err := open(t.Context(), path, options{log: testLogger(t), checkpoints: cfg})
	if err != nil {
		t.Fatalf("open(%q): %v", path, err)
	}
	return s
}

// writeCodes stores n authorization codes of about 3 KiB each, one write
// transaction apiece, calling after every 50 with the WAL's size.
func writeCodes(t *testing.T, s *Store, path string, n int, after func(walBytes int64)) {
	t.Helper()
	pad := strings.Repeat("x", 3000)
	for i := range n {
		h := sha256.Sum256([]byte(path + strconv.Itoa(i)))
		err := s.CreateCode(context.Background(), store.AuthCode{
			Hash: h[:], ClientID: "c", RedirectURI: "https://rp.example/cb", Challenge: "ch",
			Subject: "u", Claims: map[string]any{"pad": pad}, AuthTime: time.Now(),
			ExpiresAt: time.Now().Add(time.Minute),
		})
		if err != nil {
			t.Fatalf("CreateCode %d: %v", i, err)
		}
		if i%50 == 49 {
			after(walSize(t, path))
		}
	}
}

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// Under a steady write load, with the request connection's automatic
// checkpoint off, the WAL file stays within maxPages and one transaction,
// however slow the background checkpoints are: without them and the
// backstop, 3000 writes of ~3 KiB leave a WAL of more than 10 MiB.
func TestCheckpointsBoundTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keystile.db")
	s := openSmall(t, path, smallCheckpoints)
	defer s.Close()
	bound := smallCheckpoints.maxPages*walFrame(4096) + 64<<10
	var largest int64
	writeCodes(t, s, path, 3000, func(n int64) { largest = max(largest, n) })
	if largest > bound {
		t.Errorf("the WAL reached %d bytes under load, want at most %d", largest, bound)
	}
	if largest == 0 {
		t.Fatal("no WAL file seen: the database is not in WAL mode")
	}
	// Every code is there: the checkpoints lost nothing.
	for _, i := range []int{0, 1499, 2999} {
		h := sha256.Sum256([]byte(path + strconv.Itoa(i)))
		if _, err := s.RedeemCode(t.Context(), h[:], time.Now(), func(store.AuthCode) (*store.RefreshToken, error) { return nil, nil }); err != nil {
			t.Errorf("RedeemCode of code %d: %v", i, err)
		}
	}
}

// After a burst of writes, the checkpointer copies the WAL into the
// database by itself, with no further call: the database file grows to hold
// the codes. (Backstop out of the way.)
func TestCheckpointerCopiesAfterWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keystile.db")
	cfg := smallCheckpoints
	cfg.maxPages = 1 << 30
	s := openSmall(t, path, cfg)
	defer s.Close()
	writeCodes(t, s, path, 200, func(int64) {})
	const want = 200 * 3000
	deadline := time.Now().Add(10 * time.Second)
	for dbSize(t, path) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := dbSize(t, path); n < want {
		t.Errorf("the database file holds %d bytes, want at least %d: the WAL was never checkpointed", n, want)
	}
}

func dbSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// Close stops the checkpointer's goroutine and closes its connection: the
// goroutines go back to their number before Open.
func TestCloseStopsTheCheckpointer(t *testing.T) {
	before := runtime.NumGoroutine()
	path := filepath.Join(t.TempDir(), "keystile.db")
	s := openSmall(t, path, smallCheckpoints)
	writeCodes(t, s, path, 100, func(int64) {})
	if s.ckpt == nil {
		t.Fatal("a database file in WAL mode got no checkpointer")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// database/sql's own goroutines end a moment after its Close returns.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before Open:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func testLogger(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }
