package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keystile/keystile/internal/testutil"

	"github.com/keystile/keystile/store/sqlite"
)

// TestMigrationsLeaveNoHeap: opening a new file runs every migration
// through goose, whose parser leaves ~12 MiB of scan buffers in a pool.
// Open hands them back, so that a server's heap after a first start is as
// small as after any other (without it, one collection later the buffers
// are still live and set the next heap goal at about twice their size).
func TestMigrationsLeaveNoHeap(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testutil.CheckLiveHeapAfterGC(t, "Open of a new file", 6<<20)
}
