package keystile

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoginLimiterHoldsUnderParallelAttempts: attempts whose passwords are
// still being checked count, so a burst of parallel guesses cannot overrun it.
func TestLoginLimiterHoldsUnderParallelAttempts(t *testing.T) {
	l := newLoginLimiter(1, 5)
	now := time.Now()
	var admitted atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	ends := make(chan func(bool), 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if ok, end := l.begin("alice", "10.0.0.1", now); ok {
				admitted.Add(1)
				ends <- end
			}
		}()
	}
	close(start)
	wg.Wait()
	close(ends)
	if got := admitted.Load(); got != 5 {
		t.Fatalf("%d parallel attempts admitted, want the burst of 5", got)
	}
	for end := range ends {
		end(true)
	}
	if ok, _ := l.begin("alice", "10.0.0.1", now); ok {
		t.Fatal("an attempt was admitted after the burst failed")
	}
}

func TestLoginLimiterCountsOnlyFailures(t *testing.T) {
	l := newLoginLimiter(1, 2)
	now := time.Now()
	for i := range 20 {
		ok, end := l.begin("bob", "10.0.0.2", now)
		if !ok {
			t.Fatalf("successful sign-in %d was throttled", i)
		}
		end(false)
	}
	for i := range 2 {
		ok, end := l.begin("carol", "10.0.0.3", now)
		if !ok {
			t.Fatalf("failure %d within the burst was throttled", i)
		}
		end(true)
	}
	if ok, _ := l.begin("carol", "10.0.0.3", now); ok {
		t.Fatal("a failure past the burst was allowed")
	}
	// The bucket refills: the user is slowed down, never locked out.
	if ok, _ := l.begin("carol", "10.0.0.3", now.Add(2*time.Second)); !ok {
		t.Fatal("still throttled after the bucket refilled")
	}
	if ok, _ := l.begin("dave", "10.0.0.4", now); !ok {
		t.Fatal("an unrelated user was throttled")
	}
}

// TestLoginLimiterConcurrentSuccessesNeverThrottle is the load run that
// found the old refund-based limiter draining under concurrent sign-ins:
// successes, however many and however parallel, never get refused.
func TestLoginLimiterConcurrentSuccessesNeverThrottle(t *testing.T) {
	l := newLoginLimiter(1, 5)
	start := time.Now()
	var refused atomic.Int32
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				now := start.Add(time.Duration(w*500+i) * time.Millisecond)
				ok, end := l.begin("alice", "10.0.0.5", now)
				if !ok {
					refused.Add(1)
					continue
				}
				end(false)
			}
		}()
	}
	wg.Wait()
	if n := refused.Load(); n != 0 {
		t.Fatalf("%d successful sign-ins were throttled", n)
	}
}

// TestLoginLimiterGroupsIPv6By64: one host holds a whole /64, so its
// addresses share one bucket; IPv4 addresses stay apart.
func TestLoginLimiterGroupsIPv6By64(t *testing.T) {
	l := newLoginLimiter(1, 1) // an address gets 4 failures
	now := time.Now()
	for i := range 4 {
		ok, end := l.begin("user"+string(rune('a'+i)), "2001:db8:1:2::"+string(rune('1'+i)), now)
		if !ok {
			t.Fatalf("failure %d from the /64 was throttled early", i)
		}
		end(true)
	}
	if ok, _ := l.begin("usere", "2001:db8:1:2:ffff::9", now); ok {
		t.Fatal("another address of the same /64 escaped the address budget")
	}
	if ok, _ := l.begin("userf", "2001:db8:1:3::1", now); !ok {
		t.Fatal("a neighbouring /64 was throttled")
	}
	if addressKey("10.0.0.1") == addressKey("10.0.0.2") {
		t.Fatal("two IPv4 addresses share a bucket")
	}
}
