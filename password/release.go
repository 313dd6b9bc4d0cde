package password

import (
	"runtime/debug"
	"sync"
	"time"
)

// releaseDelay is how long no argon2id computation must have run before the
// memory of the last ones is handed back to the operating system.
//
// Each computation allocates its m KiB afresh (x/crypto/argon2 has no way
// to reuse a buffer), so a burst of sign-ins grows the heap to about twice
// argonSlots × m before a collection, 250–300 MB on two CPUs at the
// default 64 MiB. The Go runtime keeps that memory: idle, it collects only
// every two minutes, and its scavenger returns pages only down to the last
// heap goal. One debug.FreeOSMemory (a collection, then every free page
// returned) once the burst is over gives it back within seconds. It is
// never called per sign-in: under steady sign-ins it does not run at all,
// and the heap stays warm for the next one.
const releaseDelay = 3 * time.Second

// releaser calls free once, delay after the last of a run of computations
// ended, unless another has started meanwhile.
type releaser struct {
	delay time.Duration
	free  func()

	mu      sync.Mutex
	running int
	timer   *time.Timer
}

var argonMemory = &releaser{delay: releaseDelay, free: debug.FreeOSMemory}

// start marks a computation as running: no release happens until it ends.
func (r *releaser) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running++
	if r.timer != nil {
		r.timer.Stop()
	}
}

// done marks a computation as ended; the last one to end arms the timer.
func (r *releaser) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	if r.running > 0 {
		return
	}
	if r.timer == nil {
		r.timer = time.AfterFunc(r.delay, r.fire)
		return
	}
	r.timer.Reset(r.delay)
}

// fire releases unless a computation started after the timer went off
// (Stop cannot recall a timer whose function is already on its way).
func (r *releaser) fire() {
	r.mu.Lock()
	busy := r.running > 0
	r.mu.Unlock()
	if !busy {
		r.free()
	}
}
