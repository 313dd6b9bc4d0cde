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
	wait, a := t.admitLocked(now, shared, keys)
	t.mu.Unlock()
	if wait > 0 {
		return wait, func(time.Time, outcome) {}
	}
	var once sync.Once
	return 0, func(at time.Time, o outcome) {
		once.Do(func() { a.end(at, o, "", time.Time{}) })
	}
}

// maxAttemptKeys is the most keys one attempt names (a sign-in: its
// account and its address), so that an attempt fits in a value.
const maxAttemptKeys = 2

// attempt is an admitted attempt: the slots it holds in flight until end.
type attempt struct {
	t     *throttle
	slots [maxAttemptKeys]*slot
	n     int
}

// admitKnown is admit for an attempt that may come from a remembered place
// (see remember): when mark is remembered at now, the attempt is judged by
// mark's own gate (markPolicy) alone, else by the keys that keys returns
// (called only then, so that a known place builds no other key). It takes
// the lock once; a.end takes it once more, and remembers the place on
// success. Client authentication runs through it on every /token request.
func (t *throttle) admitKnown(now time.Time, mark string, markPolicy policy, keys func() []limitKey) (wait time.Duration, a attempt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until, ok := t.marks[mark]; ok && mark != "" && now.Before(until) {
		return t.admitLocked(now, nil, []limitKey{{mark, markPolicy}})
	}
	return t.admitLocked(now, nil, keys())
}

// admitLocked admits an attempt under t.mu. Attempts in flight count
// against each key until end.
func (t *throttle) admitLocked(now time.Time, shared map[string]store.Failures, keys []limitKey) (wait time.Duration, a attempt) {
	if len(keys) > maxAttemptKeys {
		panic("keystile: a throttle attempt names more than maxAttemptKeys keys")
	}
	if len(t.slots) >= t.maximum {
		t.sweep(now)
	}
	a.t, a.n = t, len(keys)
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
		a.slots[i] = s
		wait = max(wait, s.gate.wait(now, s.inflight))
	}
	if wait > 0 {
		return wait, attempt{}
	}
	for _, s := range a.slots[:a.n] {
		s.inflight++
	}
	return 0, a
}

// end reports the outcome of an admitted attempt, known at at; it must be
// called once. On success, a mark that is not "" is remembered until
// until (remember), under the same lock.
func (a *attempt) end(at time.Time, o outcome, mark string, until time.Time) {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range a.slots[:a.n] {
		s.inflight--
		switch o {
		case failed:
			s.gate.fail(at)
		case succeeded:
			s.gate.succeed(at)
		}
	}
	if o == succeeded && mark != "" {
		t.remember(mark, at, until)
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

// remember records key until until, under t.mu: a remembered key is a
// known place for admitKnown. The records are bounded like the slots:
// when full, lapsed ones go first, then arbitrary ones down to the
// low-water mark.
func (t *throttle) remember(key string, now, until time.Time) {
	if _, ok := t.marks[key]; !ok && len(t.marks) >= t.maximum {
		for k, u := range t.marks {
			if !now.Before(u) {
				delete(t.marks, k)
			}
		}
		for k := range t.marks {
			if len(t.marks) <= t.lowWater() {
				break
			}
			delete(t.marks, k)
		}
	}
	t.marks[key] = until
}

// sweep makes room in full slots: it drops the idle ones (a new gate would
// behave the same), then, while more than the low-water mark are left
// (an active flood fills the map), arbitrary ones with nothing in flight.
// That gives back some budget to keys that were throttled, but keeps the
// memory bounded. Each sweep walks the whole map, and leaves room for a
// quarter of the maximum: so under a flood of invented keys it runs once
// per maximum/4 new keys, not for every one (which would cost a walk of
// 100,000 entries per request).
func (t *throttle) sweep(now time.Time) {
	for k, s := range t.slots {
		if s.inflight == 0 && s.gate.idle(now) {
			delete(t.slots, k)
		}
	}
	for k, s := range t.slots {
		if len(t.slots) <= t.lowWater() {
			break
		}
		if s.inflight == 0 {
			delete(t.slots, k)
		}
	}
}

// lowWater is how many slots (and marks) a sweep leaves at most.
func (t *throttle) lowWater() int { return t.maximum - t.maximum/4 }

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
