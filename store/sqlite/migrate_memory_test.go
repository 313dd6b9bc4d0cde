package sqlite_test

import (
	"context"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"

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
	runtime.GC() // one collection: a pool's content survives it
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	live := sample[0].Value.Uint64()
	t.Logf("live heap: %.1f MiB", float64(live)/(1<<20))
	if live > 6<<20 {
		t.Errorf("live heap after Open of a new file and one collection: %.1f MiB, want under 6 MiB (goose's parse buffers kept?)", float64(live)/(1<<20))
	}
}
