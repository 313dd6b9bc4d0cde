package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// throttlesOf returns s's throttles. Run registers these cases only for a
// backend with the role, and the benchmarks' callers pass one that has it.
func throttlesOf(tb testing.TB, s store.Store) store.Throttles {
	tb.Helper()
	th, ok := s.(store.Throttles)
	if !ok {
		tb.Fatal("the backend keeps no throttles")
	}
	return th
}

func testThrottles(t *testing.T, s store.Store) {
	ctx := t.Context()
	th := throttlesOf(t, s)
	key, other := hash("throttle key"), hash("other throttle key")
	end := t0.Add(24 * time.Hour)
	want := func(what string, got store.Failures, err error, count, streak int, last, windowEnd time.Time) {
		t.Helper()
		if err != nil || got.Count != count || got.Streak != streak || !got.Last.Equal(last) || !got.WindowEnd.Equal(windowEnd) {
			t.Errorf("%s = %+v, %v; want count %d, streak %d, last %v, window end %v", what, got, err, count, streak, last, windowEnd)
		}
	}
	f, err := th.FailuresOf(ctx, key, t0)
	want("FailuresOf an unknown key", f, err, 0, 0, time.Time{}, time.Time{})
	if err := th.ClearStreak(ctx, key); err != nil {
		t.Errorf("ClearStreak of an unknown key: %v", err)
	}

	f, err = th.RecordFailure(ctx, key, t0, end)
	want("the first RecordFailure", f, err, 1, 1, t0, end)
	at := t0.Add(time.Minute + 123456789) // kept to the millisecond
	f, err = th.RecordFailure(ctx, key, at, at.Add(24*time.Hour))
	want("a second RecordFailure", f, err, 2, 2, at.Truncate(time.Millisecond), end)
	if f.Last.Location() != time.UTC || f.WindowEnd.Location() != time.UTC {
		t.Errorf("RecordFailure returned times in %v and %v, want UTC", f.Last.Location(), f.WindowEnd.Location())
	}
	f, err = th.FailuresOf(ctx, key, at)
	want("FailuresOf after two", f, err, 2, 2, at.Truncate(time.Millisecond), end)
	f, err = th.FailuresOf(ctx, other, at)
	want("FailuresOf another key", f, err, 0, 0, time.Time{}, time.Time{})

	if err := th.ClearStreak(ctx, key); err != nil {
		t.Fatalf("ClearStreak: %v", err)
	}
	f, err = th.FailuresOf(ctx, key, at)
	want("FailuresOf after ClearStreak", f, err, 2, 0, at.Truncate(time.Millisecond), end)
	f, err = th.RecordFailure(ctx, key, at, at.Add(24*time.Hour))
	want("RecordFailure after ClearStreak", f, err, 3, 1, at.Truncate(time.Millisecond), end)

	// The window lapses at its end, exactly, like a record's expiry.
	f, err = th.FailuresOf(ctx, key, end.Add(-time.Millisecond))
	want("FailuresOf just before the window ends", f, err, 3, 1, at.Truncate(time.Millisecond), end)
	f, err = th.FailuresOf(ctx, key, end)
	want("FailuresOf at the window's end", f, err, 0, 0, time.Time{}, time.Time{})
	next := end.Add(24 * time.Hour)
	f, err = th.RecordFailure(ctx, key, end, next)
	want("RecordFailure in a new window", f, err, 1, 1, end, next)

	if _, err := th.RecordFailure(ctx, nil, t0, end); err == nil {
		t.Error("RecordFailure of an empty key succeeded")
	}
}

func testThrottlesExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	th := throttlesOf(t, s)
	if _, err := th.RecordFailure(ctx, hash("lapses"), t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := th.RecordFailure(ctx, hash("stays"), t0, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteExpired at the first window's end = %d, %v; want 1", n, err)
	}
	if f, err := th.FailuresOf(ctx, hash("stays"), t0.Add(time.Hour)); err != nil || f.Count != 1 {
		t.Errorf("FailuresOf the live key after DeleteExpired = %+v, %v; want one failure", f, err)
	}
}

// testConcurrentFailures records failures against one key from several
// goroutines at once (several replicas' sign-ins): every one is counted,
// and each sees a different count.
func testConcurrentFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	th := throttlesOf(t, s)
	const goroutines, each = 8, 10
	key := hash("contended")
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				f, err := th.RecordFailure(ctx, key, t0, t0.Add(time.Hour))
				if err != nil {
					t.Errorf("RecordFailure: %v", err)
					return
				}
				mu.Lock()
				if seen[f.Count] {
					t.Errorf("two failures both saw count %d", f.Count)
				}
				seen[f.Count] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	f, err := th.FailuresOf(ctx, key, t0)
	if err != nil || f.Count != goroutines*each || f.Streak != goroutines*each {
		t.Errorf("after %d concurrent failures: %+v, %v", goroutines*each, f, err)
	}
}

// BenchRecordFailure measures what a failed sign-in costs the store when
// the throttle is shared: one read of the key's failures as the attempt
// starts, one recorded failure as it ends. Keys are spread, as many
// accounts under attack are.
func BenchRecordFailure(b *testing.B, s store.Store) {
	ctx := b.Context()
	th := throttlesOf(b, s)
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		key := counterHash(i % 1000)
		if _, err := th.FailuresOf(ctx, key, t0); err != nil {
			b.Fatalf("FailuresOf: %v", err)
		}
		if _, err := th.RecordFailure(ctx, key, t0, t0.Add(24*time.Hour)); err != nil {
			b.Fatalf("RecordFailure: %v", err)
		}
	}
}
