package sqlite

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

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
