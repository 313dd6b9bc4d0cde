package postgres

import (
	"testing"

	"github.com/keystile/keystile/internal/testutil"

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
	testutil.CheckLiveHeapAfterGC(t, "Open of an empty schema", 6<<20)
}
