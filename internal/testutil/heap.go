package testutil

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

// CheckLiveHeapAfterGC fails t when, after one collection, the live heap
// is over limit bytes. One collection, because that is what a pool's
// content survives: the stores' tests use it to show that goose's parse
// buffers were handed back after the migrations ran.
func CheckLiveHeapAfterGC(t testing.TB, what string, limit uint64) {
	t.Helper()
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	live := sample[0].Value.Uint64()
	t.Logf("live heap: %.1f MiB", float64(live)/(1<<20))
	if live > limit {
		t.Errorf("live heap after %s and one collection: %.1f MiB, want under %.1f MiB (goose's parse buffers kept?)",
			what, float64(live)/(1<<20), float64(limit)/(1<<20))
	}
}
