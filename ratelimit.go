package keystile

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// loginLimiter throttles login attempts per username and per client address
// with token buckets (golang.org/x/time/rate). A bucket refills, so an
// attacker can slow the real user down but never lock them out for good
// (SECURITY.md §5). Limits are per process: replicas each keep their own.
type loginLimiter struct {
	mu      sync.Mutex
	perUser rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

// maxBuckets bounds the limiter's memory under a flood of invented usernames.
const maxBuckets = 100_000

func newLoginLimiter(r rate.Limit, burst int) *loginLimiter {
	return &loginLimiter{perUser: r, burst: burst, buckets: make(map[string]*rate.Limiter)}
}

// reserve takes one attempt for username from addr from both buckets, and
// reports whether it may run now. Taking the token before the password is
// checked is what makes the limit hold under parallel attempts; refund gives
// it back after a successful sign-in, so that only failures count and a
// busy office behind one address is not throttled for signing in. An address
// gets four times a user's budget, since several people may share one.
func (l *loginLimiter) reserve(username, addr string, now time.Time) (ok bool, refund func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	u := l.bucket("u:"+strings.ToLower(username), l.perUser, l.burst)
	a := l.bucket("a:"+addr, 4*l.perUser, 4*l.burst)
	ru, ra := u.ReserveN(now, 1), a.ReserveN(now, 1)
	refund = func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		ru.CancelAt(now)
		ra.CancelAt(now)
	}
	if ru.OK() && ra.OK() && ru.DelayFrom(now) == 0 && ra.DelayFrom(now) == 0 {
		return true, refund
	}
	// Refused: give back what was taken, so a refused attempt costs nothing.
	ru.CancelAt(now)
	ra.CancelAt(now)
	return false, func() {}
}

// allowAddress takes one token from addr's bucket, for work an anonymous
// client can trigger at will: each login page stores a pending request, so
// their number per address is bounded (SECURITY.md §10).
func (l *loginLimiter) allowAddress(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	return l.bucket("a:"+addr, l.perUser, l.burst).AllowN(now, 1)
}

func (l *loginLimiter) bucket(key string, r rate.Limit, burst int) *rate.Limiter {
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(r, burst)
		l.buckets[key] = b
	}
	return b
}

// sweep drops buckets that have refilled completely: forgetting them changes
// nothing, since a new bucket starts full.
func (l *loginLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets { // still full: an active flood; start over
		clear(l.buckets)
	}
}
