package postgres

import (
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/keystile/keystile/store/postgres/postgrestest"
)

// TestMigrationsLeaveNoHeap: migrating an empty schema runs every migration
// through goose, whose parser leaves ~12 MiB of scan buffers in a pool.
// Open hands them back, so that a server's heap after a first start is as
// small as after any other (store/sqlite has the same test).
func TestMigrationsLeaveNoHeap(t *testing.T) {
	s, err := Open(t.Context(), postgrestest.URL(t))
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
		t.Errorf("live heap after Open of an empty schema and one collection: %.1f MiB, want under 6 MiB (goose's parse buffers kept?)", float64(live)/(1<<20))
	}
}
