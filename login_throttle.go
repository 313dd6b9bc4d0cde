package keystile

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/keystile/keystile/store"
)

// LoginThrottle bounds failed sign-ins at the login form (docs/security.md
// §5). The zero value is the defaults; a zero field takes its default.
//
// An account may fail Attempts times at once; from then on each failure
// makes its next attempt wait, 1 s at first and twice as long with every
// further failure, up to MaxDelay; and it may fail at most DailyLimit times
// in 24 hours. A successful sign-in clears the wait (not the day's count).
// A browser that signed in to the account before (a known device, with a
// cookie the server signed) has a budget of its own for it with the same
// rules, so that whoever hammers the account from elsewhere does not lock
// its owner out. A client address (IPv6: its /64) may fail PerAddress times
// a minute across accounts, after a burst of as many; known devices do not
// count against it. Only failures count. With a store that keeps throttles
// (store.Throttles: SQLite, PostgreSQL), an account's and its known
// devices' failures are kept there and shared by every server on the
// store, and so are an address's, counted in fixed one-minute windows
// (PerAddress failures in each) rather than a bucket; the attempts in
// flight are counted per process.
type LoginThrottle struct {
	// Attempts before back-off starts; default 5.
	Attempts int
	// MaxDelay is the longest wait between two attempts; default 15 minutes.
	MaxDelay time.Duration
	// DailyLimit is the most failures an account (or a known device of it)
	// may make in 24 hours; default 100.
	DailyLimit int
	// PerAddress is the failures per minute a client address may make;
	// default 60. Attempts in flight count against it, so it is also how
	// many people behind one address may sign in at the same moment at
	// one server (in flight is counted per process, failures on a shared
	// store for every server on it).
	PerAddress int
	// KnownDeviceTTL is how long a browser that signed in keeps its own
	// budget for the account; default 30 days. Negative: no known devices.
	KnownDeviceTTL time.Duration
	// Disabled turns the throttle off: for load tests, never in production.
	Disabled bool
}

// Defaults of LoginThrottle; the binary's login_throttle settings document
// the same numbers.
const (
	defaultLoginAttempts   = 5
	defaultLoginMaxDelay   = 15 * time.Minute
	defaultLoginDailyLimit = 100
	defaultLoginPerAddress = 60
	defaultKnownDeviceTTL  = 30 * 24 * time.Hour
	// loginFirstDelay is the first back-off wait; it doubles from there.
	loginFirstDelay = time.Second
)

// withDefaults fills the zero fields and checks the others.
func (t LoginThrottle) withDefaults() (LoginThrottle, error) {
	if t.Attempts < 0 || t.MaxDelay < 0 || t.DailyLimit < 0 || t.PerAddress < 0 {
		return t, errors.New("keystile: Config.LoginThrottle: Attempts, MaxDelay, DailyLimit and PerAddress must not be negative")
	}
	if t.Attempts == 0 {
		t.Attempts = defaultLoginAttempts
	}
	if t.MaxDelay == 0 {
		t.MaxDelay = defaultLoginMaxDelay
	}
	if t.DailyLimit == 0 {
		t.DailyLimit = defaultLoginDailyLimit
	}
	if t.PerAddress == 0 {
		t.PerAddress = defaultLoginPerAddress
	}
	if t.KnownDeviceTTL == 0 {
		t.KnownDeviceTTL = defaultKnownDeviceTTL
	}
	if t.DailyLimit < t.Attempts {
		return t, fmt.Errorf("keystile: Config.LoginThrottle: DailyLimit (%d) is below Attempts (%d)", t.DailyLimit, t.Attempts)
	}
	return t, nil
}

// loginGate is the login throttle of a Server.
type loginGate struct {
	throttle *throttle
	account  backoffPolicy // an account, or a known device of it
	address  policy        // a client address: bucketPolicy, or windowPolicy on a shared store
	log      *logBudget    // bounds the lines a throttled flood writes
	// shared, when the store keeps throttles, holds the accounts' and the
	// addresses' failures for every replica (throttle_shared.go); logger
	// says when it fails.
	shared store.Throttles
	logger *slog.Logger
}

func newLoginGate(t LoginThrottle, st store.Store, logger *slog.Logger) *loginGate {
	shared, _ := st.(store.Throttles)
	// One process keeps a token bucket per address; a shared store counts
	// failures, so there the address gets a fixed window of a minute
	// (throttle_shared.go): PerAddress failures in it, then none until it
	// ends. The attempts in flight are counted per process either way.
	var address policy = bucketPolicy{every: time.Minute / time.Duration(t.PerAddress), burst: t.PerAddress}
	if shared != nil {
		address = windowPolicy{limit: t.PerAddress, window: time.Minute}
	}
	return &loginGate{
		shared:   shared,
		logger:   logger,
		throttle: newThrottle(),
		account:  backoffPolicy{free: t.Attempts, delay: loginFirstDelay, maxDelay: t.MaxDelay, daily: t.DailyLimit},
		address:  address,
		log:      newLogBudget(throttleLogEvery, throttleLogBurst),
	}
}

// loginKeys are the throttle keys of a sign-in to account from addr: the
// known device's own budget, or the account's and the address's.
func (g *loginGate) loginKeys(account, device, addr string) []limitKey {
	if device != "" {
		return []limitKey{{"d:" + account + "\x00" + device, g.account}}
	}
	return []limitKey{{"u:" + account, g.account}, {"a:" + addressKey(addr), g.address}}
}

// errLoginThrottled is the message of a throttled sign-in; it does not say
// whether the account or the address ran out, nor whether the account
// exists.
func loginThrottledMessage(wait time.Duration) string {
	return "Too many failed sign-ins. Try again in " + humanDuration(wait) + "."
}

// humanDuration says d the way a person would, rounded up: "1 second",
// "40 seconds", "3 minutes", "2 hours".
func humanDuration(d time.Duration) string {
	unit := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d <= time.Minute:
		return unit(retryAfterSeconds(d), "second")
	case d <= time.Hour:
		return unit(int((d+time.Minute-1)/time.Minute), "minute")
	default:
		return unit(int((d+time.Hour-1)/time.Hour), "hour")
	}
}

// setRetryAfter sets the Retry-After header of a throttled answer.
func setRetryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", fmt.Sprint(retryAfterSeconds(wait)))
}

// The device flow's throttles, with the numbers the login throttle had
// before it backed off: device authorizations per address (each stores a
// record until it expires), and wrong user codes at /device per user and
// per address (a user code is short: RFC 8628 §5.1). LoginThrottle.Disabled
// turns them off too.
var (
	deviceAuthorizationPolicy = bucketPolicy{every: time.Second / 20, burst: 100}
	userCodePolicy            = bucketPolicy{every: time.Second, burst: 5}
	userCodeAddressPolicy     = bucketPolicy{every: time.Second / 4, burst: 20}
)
