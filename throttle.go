package keystile

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/keystile/keystile/store"
)

// throttle counts failures (sign-ins, client authentications) per key and
// refuses attempts that would overrun a key's policy. Each attempt names
// one or more keys; it is admitted only when every key admits it, and its
// outcome is reported to all of them. Attempts in flight count, so that
// parallel guesses whose passwords are still being checked cannot overrun a
// limit. Only failures are charged: a busy office signing in is never
// throttled. Limits are per process, but for the sign-in back-off of an
// account and the failures of a client address on a shared store
// (throttle_shared.go; docs/security.md §5).
type throttle struct {
	mu      sync.Mutex
	slots   map[string]*slot
	marks   map[string]time.Time // remembered facts (a known address) and when they lapse
	maximum int                  // bound on len(slots) and on len(marks)
}

// slot is one key's gate and the attempts under way against it.
type slot struct {
	gate     gate
	inflight int
}

// gate is the policy state of one key.
type gate interface {
	// wait is how long until the gate admits one more attempt besides
	// inflight ones under way; 0 admits now.
	wait(now time.Time, inflight int) time.Duration
	fail(now time.Time)
	succeed(now time.Time)
	// idle reports whether forgetting the gate changes nothing: a new one
	// would behave the same.
	idle(now time.Time) bool
}

// policy makes the gate of a new key.
type policy interface{ newGate() gate }

// limitKey is a key and the policy its gate follows.
type limitKey struct {
	key    string
	policy policy
}

// defaultThrottleEntries bounds the memory of a throttle under a flood of
// invented usernames, client ids or addresses.
const defaultThrottleEntries = 100_000

func newThrottle() *throttle {
	return &throttle{slots: map[string]*slot{}, marks: map[string]time.Time{}, maximum: defaultThrottleEntries}
}

// outcome is how an admitted attempt ended.
type outcome int

const (
	failed    outcome = iota // wrong credentials: charged
	succeeded                // right credentials: clears a back-off
	aborted                  // neither (a server error, a client gone): changes nothing
)

// begin admits one attempt against keys at now, or says how long to wait.
// When admitted (wait == 0), end must be called once with the outcome and
// the time it was known.
func (t *throttle) begin(now time.Time, keys ...limitKey) (wait time.Duration, end func(now time.Time, o outcome)) {
	return t.admit(now, nil, keys)
}

// admit is begin with the failures a store shared with other replicas
// keeps for some keys (throttle_shared.go): their gates take them before
// they judge.
func (t *throttle) admit(now time.Time, shared map[string]store.Failures, keys []limitKey) (wait time.Duration, end func(now time.Time, o outcome)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.slots) >= t.maximum {
		t.sweep(now)
	}
	slots := make([]*slot, len(keys))
	for i, k := range keys {
		s, ok := t.slots[k.key]
		if !ok {
			s = &slot{gate: k.policy.newGate()}
			t.slots[k.key] = s
		}
		if f, ok := shared[k.key]; ok {
			if g, ok := s.gate.(interface{ load(store.Failures) }); ok {
				g.load(f)
			}
		}
		slots[i] = s
		wait = max(wait, s.gate.wait(now, s.inflight))
	}
	if wait > 0 {
		return wait, func(time.Time, outcome) {}
	}
	for _, s := range slots {
		s.inflight++
	}
	var once sync.Once
	return 0, func(at time.Time, o outcome) {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			for _, s := range slots {
				s.inflight--
				switch o {
				case failed:
					s.gate.fail(at)
				case succeeded:
					s.gate.succeed(at)
				}
			}
		})
	}
}

// take charges one failure to each key at once, for work that anyone can
// ask for at will and that costs the server something to keep (a device
// authorization stores a record); it returns how long to wait when a key is
// spent, and then charges nothing.
func (t *throttle) take(now time.Time, keys ...limitKey) time.Duration {
	wait, end := t.begin(now, keys...)
	if wait == 0 {
		end(now, failed)
	}
	return wait
}

// remember records key until until; remembered reports whether it is
// recorded at now. The records are bounded like the slots: lapsed ones go
// first, then arbitrary ones.
func (t *throttle) remember(key string, now, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.marks[key]; !ok && len(t.marks) >= t.maximum {
		for k, u := range t.marks {
			if !now.Before(u) {
				delete(t.marks, k)
			}
		}
		for k := range t.marks {
			if len(t.marks) < t.maximum {
				break
			}
			delete(t.marks, k)
		}
	}
	t.marks[key] = until
}

func (t *throttle) remembered(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	until, ok := t.marks[key]
	return ok && now.Before(until)
}

// sweep drops the slots whose gates are idle. If the map is still full, an
// active flood fills it: the slots with nothing in flight go, which gives
// back some budget to keys that were throttled, but keeps the memory
// bounded.
func (t *throttle) sweep(now time.Time) {
	for k, s := range t.slots {
		if s.inflight == 0 && s.gate.idle(now) {
			delete(t.slots, k)
		}
	}
	if len(t.slots) >= t.maximum {
		for k, s := range t.slots {
			if s.inflight == 0 {
				delete(t.slots, k)
			}
		}
	}
}

// bucketPolicy is a token bucket: burst failures at once, then one per
// every. Buckets refill, so nobody is locked out for good.
type bucketPolicy struct {
	every time.Duration
	burst int
}

func (p bucketPolicy) newGate() gate {
	return &bucketGate{lim: rate.NewLimiter(rate.Every(p.every), p.burst)}
}

type bucketGate struct{ lim *rate.Limiter }

func (g *bucketGate) wait(now time.Time, inflight int) time.Duration {
	need := float64(1 + inflight)
	have := g.lim.TokensAt(now)
	if have >= need {
		return 0
	}
	if float64(g.lim.Burst()) < need {
		// More attempts are under way than the bucket holds: wait for them.
		return time.Second
	}
	return time.Duration(math.Ceil((need - have) / float64(g.lim.Limit()) * float64(time.Second)))
}

func (g *bucketGate) fail(now time.Time)    { g.lim.AllowN(now, 1) }
func (g *bucketGate) succeed(now time.Time) {}
func (g *bucketGate) idle(now time.Time) bool {
	return g.lim.TokensAt(now) >= float64(g.lim.Burst())
}

// windowPolicy is a fixed window: limit failures fit in one window, which
// opens at its first failure and lasts window; then nothing until it ends.
// It is the address budget on a shared store, which can count failures in
// a window but keeps no token bucket (throttle_shared.go).
type windowPolicy struct {
	limit  int
	window time.Duration
}

func (p windowPolicy) newGate() gate { return &windowGate{p: p} }

type windowGate struct {
	p         windowPolicy
	fails     int       // failures in the window
	windowEnd time.Time // zero before the first failure
}

// load replaces the gate's state by the failures a shared store counted.
// load takes a shared store's count. Within this gate's own window it
// only ever raises the count (see sameOrOlderWindow).
func (g *windowGate) load(f store.Failures) {
	if sameOrOlderWindow(f, g.windowEnd) {
		g.fails = max(g.fails, f.Count)
		return
	}
	g.fails, g.windowEnd = f.Count, f.WindowEnd
}

// sameOrOlderWindow reports whether a count read from the shared store
// belongs to the gate's live window (or an older one) rather than a newer
// one. Such a read may be behind this replica: it can have been taken just
// before this replica recorded a failure, or this replica's write may have
// failed. Letting it lower the gate would forget failures, so within the
// gate's window a load only raises what the gate holds; the price is that a
// success on another replica clears this replica's back-off only at this
// replica's own next success, or when the window ends (fail safe).
func sameOrOlderWindow(f store.Failures, windowEnd time.Time) bool {
	return !windowEnd.IsZero() && !f.WindowEnd.After(windowEnd)
}

func (g *windowGate) roll(now time.Time) {
	if !g.windowEnd.IsZero() && !now.Before(g.windowEnd) {
		g.fails, g.windowEnd = 0, time.Time{}
	}
}

func (g *windowGate) wait(now time.Time, inflight int) time.Duration {
	g.roll(now)
	switch {
	case g.fails+inflight < g.p.limit:
		return 0
	case g.fails < g.p.limit:
		return time.Second // the window's last attempts are under way
	}
	return g.windowEnd.Sub(now)
}

func (g *windowGate) fail(now time.Time) {
	g.roll(now)
	if g.windowEnd.IsZero() {
		g.windowEnd = now.Add(g.p.window)
	}
	g.fails++
}

func (g *windowGate) succeed(now time.Time) {}

func (g *windowGate) idle(now time.Time) bool {
	g.roll(now)
	return g.fails == 0
}

// backoffPolicy is a progressive back-off with a daily cap: free failures
// pass at once; from then on each failure makes the next attempt wait
// delay, doubling with every further failure up to maxDelay; and no more
// than daily failures fit in one 24-hour window. A success clears the
// back-off (not the day's count); a window without failures starts afresh.
type backoffPolicy struct {
	free            int
	delay, maxDelay time.Duration
	daily           int
}

// backoffWindow is the window of the daily cap.
const backoffWindow = 24 * time.Hour

func (p backoffPolicy) newGate() gate { return &backoffGate{p: p} }

type backoffGate struct {
	p           backoffPolicy
	fails       int       // failures since the last success, in this window
	next        time.Time // no attempt before this
	windowEnd   time.Time // end of the daily window; zero before the first failure
	windowFails int       // failures in the window
}

// load replaces the gate's state by failures a shared store recorded, by
// the same rules fail and succeed apply: the back-off follows the streak
// since the last success, counted from the latest failure.
//
// Within the gate's own window a load only raises the streak, the count
// and the wait (see sameOrOlderWindow).
func (g *backoffGate) load(f store.Failures) {
	next := time.Time{}
	if over := f.Streak - g.p.free; over >= 0 && !f.WindowEnd.IsZero() {
		next = f.Last.Add(g.p.backoff(over))
	}
	if sameOrOlderWindow(f, g.windowEnd) {
		g.fails, g.windowFails = max(g.fails, f.Streak), max(g.windowFails, f.Count)
		if next.After(g.next) {
			g.next = next
		}
		return
	}
	g.fails, g.windowFails, g.windowEnd, g.next = f.Streak, f.Count, f.WindowEnd, next
}

func (g *backoffGate) roll(now time.Time) {
	if !g.windowEnd.IsZero() && !now.Before(g.windowEnd) {
		g.fails, g.windowFails, g.windowEnd, g.next = 0, 0, time.Time{}, time.Time{}
	}
}

func (g *backoffGate) wait(now time.Time, inflight int) time.Duration {
	g.roll(now)
	if g.windowFails+inflight >= g.p.daily {
		if inflight > 0 && g.windowFails < g.p.daily {
			return time.Second // the last attempts of the day are under way
		}
		return g.windowEnd.Sub(now)
	}
	if now.Before(g.next) {
		return g.next.Sub(now)
	}
	// While free failures remain, that many attempts may run at once;
	// once they are spent, one at a time.
	if inflight >= max(1, g.p.free-g.fails) {
		return time.Second
	}
	return 0
}

func (g *backoffGate) fail(now time.Time) {
	g.roll(now)
	if g.windowEnd.IsZero() {
		g.windowEnd = now.Add(backoffWindow)
	}
	g.fails++
	g.windowFails++
	if over := g.fails - g.p.free; over >= 0 {
		g.next = now.Add(g.p.backoff(over))
	}
}

// backoff is the wait after over failures beyond the free ones: delay,
// doubling with each, up to maxDelay.
func (p backoffPolicy) backoff(over int) time.Duration {
	if over >= 30 {
		return p.maxDelay
	}
	return min(p.delay<<over, p.maxDelay)
}

func (g *backoffGate) succeed(now time.Time) {
	g.roll(now)
	g.fails, g.next = 0, time.Time{}
}

func (g *backoffGate) idle(now time.Time) bool {
	g.roll(now)
	return g.windowFails == 0
}

// addressKey groups IPv6 addresses by their /64, which one host or one
// customer usually holds whole: per-/128 buckets would let one attacker
// count as 2^64 addresses.
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Is4() || ip.Is4In6() {
		return addr
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}
