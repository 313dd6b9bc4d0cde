// Package schema tells whether a database already has every migration a
// backend embeds, from the versions its goose table lists: one query, where
// goose's Up takes several round trips (and, on PostgreSQL, connections of
// its own and the migration lock) even when nothing is pending. A backend
// runs goose only when this says a migration is missing.
package schema

import (
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"strconv"
	"strings"
)

// Versions returns the versions of the migration files in fsys, as goose
// numbers them: "00007_throttle_failures.sql" is version 7.
func Versions(fsys fs.FS) ([]int64, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	versions := make([]int64, 0, len(names))
	for _, name := range names {
		num, _, ok := strings.Cut(path.Base(name), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migrations: %q is not named VERSION_name.sql", name)
		}
		versions = append(versions, v)
	}
	return versions, nil
}

// Current reports whether every version in embedded is among applied. A
// database that also has later versions (a newer binary migrated it) is
// current too: goose's Up would apply nothing to it either.
func Current(embedded, applied []int64) bool {
	have := make(map[int64]bool, len(applied))
	for _, v := range applied {
		have[v] = true
	}
	for _, v := range embedded {
		if !have[v] {
			return false
		}
	}
	return true
}

// ReleaseParseBuffers hands back what a goose run leaves behind, for a
// backend to call after its migrations ran (a first start or an upgrade;
// never when Current says there is nothing to do). goose v3's SQL parser
// takes a 4 MiB scan buffer from a package-level sync.Pool for each parse,
// and parses each file's up and down halves at once, so a run leaves about
// 12 MiB in the pool. A pool empties only over two collections, and until
// then its buffers count as live heap: the next collection's goal was
// 18 MiB instead of 4, and a server's first load after a first start grew
// its RSS to 33 MB instead of 27. Two collections of a heap that small
// take well under a millisecond.
func ReleaseParseBuffers() {
	runtime.GC()
	runtime.GC()
}
