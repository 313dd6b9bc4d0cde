package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A plain path may carry the driver's options after "?", as the driver
// reads them: the file created (private) and the WAL watched by the
// backstop are the path's file, not a file whose name holds the options.
func TestPathOptionsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keystile.db")
	s := openSmall(t, path+"?_pragma=cache_size(-4000)", smallCheckpoints)
	defer s.Close()
	var largest int64
	writeCodes(t, s, path, 1500, func(n int64) { largest = max(largest, n) })
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "?") {
			t.Errorf("Open created %q: the options became part of a file name", e.Name())
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the database file: %v, mode %v; want it created with mode 0600", err, st.Mode().Perm())
	}
	if bound := smallCheckpoints.maxPages*walFrame(4096) + 64<<10; largest > bound {
		t.Errorf("the WAL reached %d bytes, want at most %d: the backstop watched another file", largest, bound)
	}
}

// locking_mode(EXCLUSIVE) among the options is refused with an error that
// names it, and leaves the file free: the request connection would hold it
// from its first transaction to Close, so neither the store's checkpointer
// nor another process could open it. Before, Open failed after busy_timeout
// with the checkpoint connection's "database is locked".
func TestExclusiveLockingIsRefused(t *testing.T) {
	for _, name := range []string{"plain path", "file URI"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keystile.db")
			dsn := path + "?_pragma=locking_mode(EXCLUSIVE)"
			if name == "file URI" {
				dsn = "file:" + dsn
			}
			s, err := open(t.Context(), dsn, options{log: testLogger(t), checkpoints: smallCheckpoints})
			if err == nil {
				s.Close()
				t.Fatal("Open with locking_mode(EXCLUSIVE) succeeded")
			}
			if !errors.Is(err, errExclusive) {
				t.Errorf("Open: %v; want the error that names locking_mode(EXCLUSIVE)", err)
			}
			again := openSmall(t, path, smallCheckpoints) // the refused Open let the file go
			writeCodes(t, again, path, 1, func(int64) {})
			if err := again.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Close lets go of the database: its file descriptors are closed, so a
// process that opens and closes stores (a test suite, a key command) does
// not keep them. database/sql does not close statements prepared on a
// sql.Conn when the database closes, and SQLite keeps a connection with
// statements open alive after its close, so the pool closes them itself.
func TestCloseReleasesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keystile.db")
	openFDs := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("no /proc/self/fd: %v", err)
		}
		return len(entries)
	}
	s := openSmall(t, path, smallCheckpoints) // the first Open creates the schema
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := openFDs()
	for i := range 5 {
		s := openSmall(t, path, smallCheckpoints)
		// One write, under a key of its own (writeCodes reads the WAL's
		// size only every 50th code).
		writeCodes(t, s, path+strconv.Itoa(i), 1, func(int64) {})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := openFDs(); after > before {
		t.Errorf("%d file descriptors open after 5 Open/Close, %d before: Close left the database open", after, before)
	}
}
