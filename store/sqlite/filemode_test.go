package sqlite_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// TestFilesArePrivate: the database and its -wal and -shm files hold user
// claims in clear, so they are created 0600 whatever the umask lets through.
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the common default, which leaves files world-readable
	t.Cleanup(func() { syscall.Umask(old) })

	path := filepath.Join(t.TempDir(), "keystile.db")
	s := openFile(t, path)
	defer s.Close()
	// A write makes sure the write-ahead log exists.
	now := time.Now()
	if err := s.CreateCode(t.Context(), store.AuthCode{Hash: []byte{1}, ClientID: "spa", Subject: "alice", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(name), mode)
		}
	}
}
