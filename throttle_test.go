package keystile

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

var testAccountPolicy = backoffPolicy{free: 5, delay: time.Second, maxDelay: 15 * time.Minute, daily: 100}

// peek is how long keys would make an attempt wait at now, without
// starting one.
func (t *throttle) peek(now time.Time, keys ...limitKey) time.Duration {
	wait, end := t.begin(now, keys...)
	end(now, aborted)
	return wait
}

// TestThrottleHoldsUnderParallelAttempts: attempts whose passwords are
// still being checked count, so a burst of parallel guesses cannot overrun
// the free attempts.
func TestThrottleHoldsUnderParallelAttempts(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	key := limitKey{"u:alice", testAccountPolicy}
	var admitted atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	ends := make(chan func(time.Time, outcome), 50)
	for range 50 {
		wg.Go(func() {
			<-start
			if wait, end := th.begin(now, key); wait == 0 {
				admitted.Add(1)
				ends <- end
			}
		})
	}
	close(start)
	wg.Wait()
	close(ends)
	if got := admitted.Load(); got != 5 {
		t.Fatalf("%d parallel attempts admitted, want the 5 free ones", got)
	}
	for end := range ends {
		end(now, failed)
	}
	if wait, _ := th.begin(now, key); wait == 0 {
		t.Fatal("an attempt was admitted at once after the free ones failed")
	}
}

// TestThrottleCountsOnlyFailures: successes, however many and however
// parallel, are never refused, and a success clears the back-off.
func TestThrottleCountsOnlyFailures(t *testing.T) {
	th := newThrottle()
	start := time.Now()
	key := limitKey{"u:bob", testAccountPolicy}
	var refused atomic.Int32
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				now := start.Add(time.Duration(w*200+i) * time.Millisecond)
				wait, end := th.begin(now, key)
				if wait > 0 {
					refused.Add(1)
					continue
				}
				end(now, succeeded)
			}
		})
	}
	wg.Wait()
	if n := refused.Load(); n != 0 {
		t.Fatalf("%d successful sign-ins were throttled", n)
	}
	for range 5 {
		_, end := th.begin(start, key)
		end(start, failed)
	}
	if wait := th.peek(start, key); wait != time.Second {
		t.Fatalf("after the free failures: wait %v, want 1s", wait)
	}
	_, end := th.begin(start.Add(time.Second), key)
	end(start.Add(time.Second), succeeded)
	if wait := th.peek(start.Add(time.Second), key); wait != 0 {
		t.Fatalf("after a success: wait %v, want none", wait)
	}
}

// TestThrottleBacksOffAndCapsTheDay: past the free failures each failure
// doubles the wait up to the maximum, and the day's failures are capped;
// an aborted attempt changes nothing; the next day starts afresh.
func TestThrottleBacksOffAndCapsTheDay(t *testing.T) {
	th := newThrottle()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	day := now
	key := limitKey{"u:carol", testAccountPolicy}
	fail := func() time.Duration {
		t.Helper()
		wait, end := th.begin(now, key)
		if wait > 0 {
			t.Fatalf("failure refused with wait %v", wait)
		}
		end(now, failed)
		return th.peek(now, key)
	}
	for range 4 {
		if w := fail(); w != 0 {
			t.Fatalf("a free failure made the next attempt wait %v", w)
		}
	}
	want := time.Second
	for i := 5; i < 20; i++ {
		w := fail()
		if w != want {
			t.Fatalf("failure %d: wait %v, want %v", i+1, w, want)
		}
		now = now.Add(w)
		want = min(2*want, 15*time.Minute)
	}
	_, end := th.begin(now, key)
	end(now, aborted)
	if w := th.peek(now, key); w != 0 {
		t.Fatalf("after an aborted attempt: wait %v, want none", w)
	}
	for n := 19; n < 99; n++ { // 19 so far
		now = now.Add(fail())
	}
	w := fail() // the 100th
	if end := day.Add(24 * time.Hour); w <= 0 || !now.Add(w).Equal(end) {
		t.Fatalf("after 100 failures: wait %v, want until the day's window ends at %v", w, end)
	}
	now = day.Add(24 * time.Hour)
	if w := th.peek(now, key); w != 0 {
		t.Fatalf("the next day: wait %v, want none", w)
	}
}

// TestThrottleWindowOnSharedCounts: the address budget on a shared store
// takes limit failures in a window that opens at the first; failures other
// replicas recorded (loaded from the store) count the same; the window's
// end frees it; successes and attempts in flight are not failures, but the
// last attempts under way hold the rest back.
func TestThrottleWindowOnSharedCounts(t *testing.T) {
	th := newThrottle()
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	key := limitKey{"a:192.0.2.1", windowPolicy{limit: 3, window: time.Minute}}
	now := start
	for i := range 2 {
		wait, end := th.begin(now, key)
		if wait != 0 {
			t.Fatalf("failure %d refused with wait %v", i+1, wait)
		}
		end(now, failed)
		now = now.Add(10 * time.Second)
	}
	_, last := th.begin(now, key)
	if w := th.peek(now, key); w != time.Second {
		t.Errorf("with the window's last failure under way: wait %v, want 1s", w)
	}
	last(now, succeeded)
	if w := th.peek(now, key); w != 0 {
		t.Errorf("after a success: wait %v, want none", w)
	}
	// Another replica recorded the third failure: the store's count wins.
	shared := map[string]store.Failures{key.key: {Count: 3, Streak: 3, Last: now, WindowEnd: start.Add(time.Minute)}}
	wait, _ := th.admit(now, shared, []limitKey{key})
	if want := start.Add(time.Minute).Sub(now); wait != want {
		t.Errorf("after the shared third failure: wait %v, want %v (until the window ends)", wait, want)
	}
	if w := th.peek(start.Add(time.Minute), key); w != 0 {
		t.Errorf("once the window ended: wait %v, want none", w)
	}
}

// TestThrottleGroupsIPv6By64: one host holds a whole /64, so its addresses
// share one bucket; IPv4 addresses stay apart.
func TestThrottleGroupsIPv6By64(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	policy := bucketPolicy{every: time.Second, burst: 4}
	for i := range 4 {
		wait, end := th.begin(now, limitKey{"a:" + addressKey("2001:db8:1:2::"+string(rune('1'+i))), policy})
		if wait > 0 {
			t.Fatalf("failure %d from the /64 was throttled early", i)
		}
		end(now, failed)
	}
	if wait, _ := th.begin(now, limitKey{"a:" + addressKey("2001:db8:1:2:ffff::9"), policy}); wait == 0 {
		t.Fatal("another address of the same /64 escaped the address budget")
	}
	if wait, _ := th.begin(now, limitKey{"a:" + addressKey("2001:db8:1:3::1"), policy}); wait != 0 {
		t.Fatal("a neighbouring /64 was throttled")
	}
	if addressKey("10.0.0.1") == addressKey("10.0.0.2") {
		t.Fatal("two IPv4 addresses share a bucket")
	}
}

// TestThrottleStaysBounded: a flood of invented keys never holds more than
// the maximum.
func TestThrottleStaysBounded(t *testing.T) {
	th := newThrottle()
	th.maximum = 100
	now := time.Now()
	for i := range 1000 {
		_, end := th.begin(now, limitKey{"u:" + string(rune(0x4e00+i)), testAccountPolicy})
		end(now, failed)
	}
	if n := len(th.slots); n > th.maximum {
		t.Fatalf("%d entries, want at most %d", n, th.maximum)
	}
}

// TestThrottleSweepLeavesRoom: a full throttle's sweep frees a quarter of
// the maximum even when only one gate is idle, so that a flood of invented
// keys walks the whole map once per maximum/4 new keys rather than for
// every key (before, freeing the one idle gate left the map full again at
// the next new key). Known places (remember) are bounded the same way.
func TestThrottleSweepLeavesRoom(t *testing.T) {
	th := newThrottle()
	th.maximum = 100
	now := time.Now()
	_, end := th.begin(now, limitKey{"idle", testAccountPolicy})
	end(now, succeeded) // charges nothing: its gate stays idle
	for i := range th.maximum - 1 {
		_, end := th.begin(now, limitKey{fmt.Sprintf("u:%d", i), testAccountPolicy})
		end(now, failed)
	}
	if n := len(th.slots); n != th.maximum {
		t.Fatalf("%d slots before the flood's next key, want %d", n, th.maximum)
	}
	_, end = th.begin(now, limitKey{"u:new", testAccountPolicy})
	end(now, failed)
	if n, want := len(th.slots), th.lowWater()+1; n > want {
		t.Errorf("%d slots after a sweep, want at most %d: the next new key sweeps again", n, want)
	}
	if _, ok := th.slots["u:new"]; !ok {
		t.Error("the key that caused the sweep was not admitted")
	}

	for i := range 1000 {
		th.mu.Lock()
		th.remember(fmt.Sprintf("k:%d", i), now, now.Add(time.Hour))
		th.mu.Unlock()
		if n := len(th.marks); n > th.maximum {
			t.Fatalf("%d marks, want at most %d", n, th.maximum)
		}
	}
}

// TestSharedLoadNeverForgets: a count read from the shared store before
// this replica recorded its own failures (or after its write failed) must
// not lower what the replica knows. Before, the load replaced the gate's
// state, so a stale read re-opened an account in back-off.
func TestSharedLoadNeverForgets(t *testing.T) {
	th := newThrottle()
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	key := limitKey{"u:alice", backoffPolicy{free: 2, delay: time.Second, maxDelay: time.Minute, daily: 100}}
	// Three failures: two free, the third after the 1 s back-off; it sets a
	// 2 s back-off.
	for _, at := range []time.Time{start, start, start.Add(time.Second)} {
		wait, end := th.admit(at, map[string]store.Failures{}, []limitKey{key})
		if wait != 0 {
			t.Fatalf("failure at %v refused: wait %v", at.Sub(start), wait)
		}
		end(at, failed)
	}
	now := start.Add(time.Second)
	want := 2 * time.Second
	if wait, _ := th.admit(now, map[string]store.Failures{}, []limitKey{key}); wait != want {
		t.Fatalf("before any shared read: wait %v, want %v", wait, want)
	}
	stale := store.Failures{Count: 1, Streak: 1, Last: start, WindowEnd: start.Add(backoffWindow)}
	if wait, _ := th.admit(now, map[string]store.Failures{key.key: stale}, []limitKey{key}); wait != want {
		t.Errorf("after a stale shared read: wait %v, want the %v back-off this replica already counted", wait, want)
	}
	// Nothing at all in the store (its writes failed): still throttled.
	if wait, _ := th.admit(now, map[string]store.Failures{key.key: {}}, []limitKey{key}); wait != want {
		t.Errorf("with nothing in the store: wait %v, want %v", wait, want)
	}
	// A newer window in the store is taken as it is.
	later := start.Add(backoffWindow + time.Hour)
	fresh := store.Failures{Count: 1, Streak: 1, Last: later, WindowEnd: later.Add(backoffWindow)}
	if wait, _ := th.admit(later, map[string]store.Failures{key.key: fresh}, []limitKey{key}); wait != 0 {
		t.Errorf("in a new window with one failure: wait %v, want none", wait)
	}
}
