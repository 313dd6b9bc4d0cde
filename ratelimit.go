package keystile

import (
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// loginLimiter throttles failed login attempts per username and per client
// address with token buckets (golang.org/x/time/rate). A bucket refills, so
// an attacker can slow the real user down but never lock them out for good
// (docs/security.md §5). Limits are per process: replicas each keep their own.
type loginLimiter struct {
	mu      sync.Mutex
	perUser rate.Limit
	burst   int
	buckets map[string]*bucket
}

// bucket is one key's token bucket plus the attempts under way against it.
type bucket struct {
	lim      *rate.Limiter
	inflight int
}

// maxBuckets bounds the limiter's memory under a flood of invented usernames.
const maxBuckets = 100_000

func newLoginLimiter(r rate.Limit, burst int) *loginLimiter {
	return &loginLimiter{perUser: r, burst: burst, buckets: make(map[string]*bucket)}
}

// begin admits one attempt for username from addr, or refuses it. An
// attempt is admitted while both buckets hold a token for it and for every
// attempt already under way, so that parallel guesses cannot overrun the
// limit while their passwords are being checked. end reports the outcome:
// only a failure takes a token, so a busy office behind one address is never
// throttled for signing in. An address gets four times a user's budget,
// since several people may share one.
func (l *loginLimiter) begin(username, addr string, now time.Time) (ok bool, end func(failed bool)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	u := l.bucket("u:"+strings.ToLower(username), l.perUser, l.burst)
	a := l.bucket("a:"+addressKey(addr), 4*l.perUser, 4*l.burst)
	if !u.admits(now) || !a.admits(now) {
		return false, func(bool) {}
	}
	u.inflight++
	a.inflight++
	return true, func(failed bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		u.inflight--
		a.inflight--
		if failed {
			u.lim.AllowN(now, 1)
			a.lim.AllowN(now, 1)
		}
	}
}

func (b *bucket) admits(now time.Time) bool {
	return b.lim.TokensAt(now) >= float64(1+b.inflight)
}

// allowAddress takes one token from addr's bucket, for work an anonymous
// client can trigger at will: each login page stores a pending request, so
// their number per address is bounded (docs/security.md §10).
func (l *loginLimiter) allowAddress(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	return l.bucket("a:"+addressKey(addr), l.perUser, l.burst).lim.AllowN(now, 1)
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

// retryAfter is how many whole seconds one token takes to come back.
func (l *loginLimiter) retryAfter() int {
	if l.perUser <= 0 || math.IsInf(float64(l.perUser), 1) {
		return 1
	}
	return int(math.Ceil(1 / float64(l.perUser)))
}

func (l *loginLimiter) bucket(key string, r rate.Limit, burst int) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(r, burst)}
		l.buckets[key] = b
	}
	return b
}

// sweep drops idle buckets that have refilled completely: forgetting them
// changes nothing, since a new bucket starts full.
func (l *loginLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.inflight == 0 && b.lim.TokensAt(now) >= float64(b.lim.Burst()) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets { // still full: an active flood; start over
		for k, b := range l.buckets {
			if b.inflight == 0 {
				delete(l.buckets, k)
			}
		}
	}
}
