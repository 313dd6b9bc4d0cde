package keystile

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoginLimiterHoldsUnderParallelAttempts(t *testing.T) {
	l := newLoginLimiter(1, 5)
	now := time.Now()
	var allowed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if ok, _ := l.reserve("alice", "10.0.0.1", now); ok {
				allowed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := allowed.Load(); got != 5 {
		t.Fatalf("%d parallel attempts allowed, want the burst of 5", got)
	}
}

func TestLoginLimiterCountsOnlyFailures(t *testing.T) {
	l := newLoginLimiter(1, 2)
	now := time.Now()
	for i := range 20 {
		ok, refund := l.reserve("bob", "10.0.0.2", now)
		if !ok {
			t.Fatalf("successful sign-in %d was throttled", i)
		}
		refund()
	}
	for i := range 2 {
		if ok, _ := l.reserve("carol", "10.0.0.3", now); !ok {
			t.Fatalf("failure %d within the burst was throttled", i)
		}
	}
	if ok, _ := l.reserve("carol", "10.0.0.3", now); ok {
		t.Fatal("a failure past the burst was allowed")
	}
	// The bucket refills: the user is slowed down, never locked out.
	if ok, _ := l.reserve("carol", "10.0.0.3", now.Add(2*time.Second)); !ok {
		t.Fatal("still throttled after the bucket refilled")
	}
	// Another user from another address is not affected.
	if ok, _ := l.reserve("dave", "10.0.0.4", now); !ok {
		t.Fatal("an unrelated user was throttled")
	}
}
