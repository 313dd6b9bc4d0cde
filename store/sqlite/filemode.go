package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// The database holds user claims and session records in clear: it is
// created readable by its owner only, whatever the process's umask says
// (docs/security.md §8). SQLite gives its -wal and -shm files the mode of
// the database file; they are tightened after opening too, in case an
// older run left them wider.

// createPrivate creates the database file at path with mode 0600 when it
// does not exist yet, so that SQLite opens a file that was never
// world-readable. ":memory:" and "file:" URIs are left to SQLite.
func createPrivate(path string) error {
	if !plainFile(path) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return err
	}
	return f.Close()
}

// privateSidecars narrows the -wal and -shm files of a database whose own
// file is private to the same mode.
func privateSidecars(path string) {
	if !plainFile(path) {
		return
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 != 0 {
		return // the operator chose a wider mode for the database itself
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Chmod(path+suffix, 0o600) // missing until the first write: nothing to do
	}
}

func plainFile(path string) bool {
	return path != ":memory:" && !strings.HasPrefix(path, "file:")
}
