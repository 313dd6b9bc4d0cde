package keystile

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/keystile/keystile/store"
)

// On a store that keeps throttles (store.Throttles: SQLite, PostgreSQL),
// the sign-in back-off of an account, and of each known device of it, is
// kept there, so that replicas sharing the store share one budget: five
// failures through one replica count at the other (docs/security.md §5).
// So are the failures of a client address (LoginThrottle.PerAddress), in a
// fixed one-minute window under the key "a:<address>". The store only
// counts; the rules stay in the gates (backoffGate, windowGate), which load
// the store's count as each attempt starts. Each attempt reads its account's
// and its address's counts, and each failure writes them: two row reads and
// two upserts, against a password hash that costs far more
// (docs/service.md gives the figures). The attempts in flight stay per
// process: a replica counts only its own against a budget, so N replicas
// may have N times as many guesses under way at once. The client and
// device-flow throttles stay per process too.

// sharedPolicy is a policy whose failures a shared store keeps.
type sharedPolicy interface {
	policy
	// windowEnd is where a window that a failure at first opens ends.
	windowEnd(first time.Time) time.Time
	// clears reports whether a success clears the key's streak.
	clears() bool
}

func (p backoffPolicy) windowEnd(first time.Time) time.Time { return first.Add(backoffWindow) }
func (p backoffPolicy) clears() bool                        { return true }
func (p windowPolicy) windowEnd(first time.Time) time.Time  { return first.Add(p.window) }
func (p windowPolicy) clears() bool                         { return false }

// sharedKeyHash is how the store names a throttle key: hashed, since the
// key holds a username as typed, and a password is often typed there.
func sharedKeyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// begin is throttle.begin for a sign-in to account: it loads the shared
// keys' failures from the store first, and its end records the outcome
// there. An error reading the store refuses the sign-in (fail closed).
func (g *loginGate) begin(ctx context.Context, now time.Time, account, device, addr string) (time.Duration, func(time.Time, outcome), error) {
	keys := g.loginKeys(account, device, addr)
	if g.shared == nil {
		wait, end := g.throttle.begin(now, keys...)
		return wait, end, nil
	}
	shared := map[string]store.Failures{} // of the keys the store keeps
	policies := map[string]sharedPolicy{}
	for _, k := range keys {
		p, ok := k.policy.(sharedPolicy)
		if !ok {
			continue
		}
		f, err := g.shared.FailuresOf(ctx, sharedKeyHash(k.key), now)
		if err != nil {
			return 0, nil, fmt.Errorf("reading the login throttle: %w", err)
		}
		shared[k.key], policies[k.key] = f, p
	}
	wait, end := g.throttle.admit(now, shared, keys)
	if wait > 0 {
		return wait, end, nil
	}
	// The outcome is recorded even if the client went away meanwhile:
	// hanging up after sending a guess must not make it free.
	ctx = context.WithoutCancel(ctx)
	return 0, func(at time.Time, o outcome) {
		end(at, o)
		for key, f := range shared {
			var err error
			p := policies[key]
			switch {
			case o == failed:
				_, err = g.shared.RecordFailure(ctx, sharedKeyHash(key), at, p.windowEnd(at))
			case o == succeeded && f.Streak > 0 && p.clears():
				err = g.shared.ClearStreak(ctx, sharedKeyHash(key))
			}
			if err != nil {
				// This replica's gate has counted the attempt; the others
				// miss it. Logged, not fatal: the sign-in already happened.
				g.logger.ErrorContext(ctx, "recording a sign-in in the shared login throttle", slog.Any("err", err))
			}
		}
	}, nil
}
