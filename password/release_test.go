package password

import (
	"context"
	"testing"
	"time"
)

// countingReleaser returns a releaser with a short delay whose releases
// arrive on the channel.
func countingReleaser(delay time.Duration) (*releaser, chan struct{}) {
	freed := make(chan struct{}, 16)
	return &releaser{delay: delay, free: func() { freed <- struct{}{} }}, freed
}

// waitFreed fails unless a release arrives; the bound is generous, since
// only the release matters, not when.
func waitFreed(t *testing.T, freed chan struct{}) {
	t.Helper()
	select {
	case <-freed:
	case <-time.After(30 * time.Second):
		t.Fatal("the memory was never released")
	}
}

func TestCheckReleasesArgonMemoryOnceIdle(t *testing.T) {
	r, freed := countingReleaser(time.Millisecond)
	saved := argonMemory
	argonMemory = r
	t.Cleanup(func() { argonMemory = saved })

	if ok, err := Check(context.Background(), cheapHash(t, "pw", 64, 1, 1), "pw"); !ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	waitFreed(t, freed)
}

func TestReleaseWaitsForTheLastComputation(t *testing.T) {
	r, freed := countingReleaser(time.Millisecond)
	r.start()
	r.start()
	r.done()
	// Ten times the delay: a release now would hand back memory that the
	// second computation is still using, and would run per sign-in.
	time.Sleep(10 * time.Millisecond)
	select {
	case <-freed:
		t.Fatal("released while a computation was still running")
	default:
	}
	r.done()
	waitFreed(t, freed)
	select {
	case <-freed:
		t.Fatal("released twice for one burst")
	case <-time.After(20 * time.Millisecond):
	}
}

func TestReleaseSkippedWhenAComputationStartsAsTheTimerFires(t *testing.T) {
	r, freed := countingReleaser(time.Hour)
	r.start()
	r.done()
	r.start()
	r.fire() // the timer went off just as the next computation started
	select {
	case <-freed:
		t.Fatal("released during a computation")
	default:
	}
	r.done()
	r.fire()
	if len(freed) != 1 {
		t.Fatalf("%d releases once idle, want 1", len(freed))
	}
}
