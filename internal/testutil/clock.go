package testutil

import (
	"sync"
	"time"
)

// Clock is a controllable Config.Now: tests move it forward (or back) to
// expire codes, sessions and tokens without sleeping. The zero value follows
// the real time plus whatever Advance added; a clock from StoppedClock
// stands still. It is safe for concurrent use by handlers and the test.
type Clock struct {
	mu      sync.Mutex
	stopped time.Time // zero: follow the real time
	offset  time.Duration
}

// StoppedClock returns a clock that reads at until it is advanced, for tests
// whose assertions need time not to pass on its own.
func StoppedClock(at time.Time) *Clock { return &Clock{stopped: at} }

// Now is the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.stopped.Add(c.offset)
}

// Advance moves the clock by d, which may be negative.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
