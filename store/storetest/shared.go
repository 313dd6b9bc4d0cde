package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keystile/keystile/store"
)

// RunShared checks what only two stores on one database can show: that the
// database, not the process, decides every race, as it must for Keystile
// replicas sharing one PostgreSQL or processes sharing one SQLite file. A
// credential is still redeemed once across both, and every loser is told it
// lost (not a lock, busy or serialization error, which a server would turn
// into a 500).
//
// open is called once per subtest and must return two stores on one empty
// database; RunShared closes them when the subtest ends. A backend with no
// way to share a database (memory) does not call RunShared.
func RunShared(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	pair := func(t *testing.T) [2]store.Store {
		t.Helper()
		a, b := open(t)
		for _, s := range []store.Store{a, b} {
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
		return [2]store.Store{a, b}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, stores [2]store.Store)
	}{
		{"a code is consumed once across stores", testSharedConsumeCode},
		{"a refresh token is rotated once across stores", testSharedRotate},
		{"a sign-out in one store races a rotation in the other", testSharedEndSession},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, pair(t)) })
	}
}

// Racer i uses stores[i%2]: half the racers on each, interleaved.
func testSharedConsumeCode(t *testing.T, stores [2]store.Store) {
	ctx := t.Context()
	for round := range rounds {
		c := sampleCode(fmt.Sprintf("shared race %d", round))
		if err := stores[0].CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		race(t, store.ErrReused, func(i int) error {
			_, err := stores[i%2].ConsumeCode(ctx, c.Hash, t0)
			return err
		})
	}
}

func testSharedRotate(t *testing.T, stores [2]store.Store) {
	ctx := t.Context()
	for round := range rounds {
		old := sampleRefresh(fmt.Sprintf("shared rotate %d", round))
		if err := stores[0].CreateRefreshToken(ctx, old); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
		race(t, store.ErrReused, func(i int) error {
			next := nextRefresh(old, fmt.Sprintf("shared rotate %d next %d", round, i))
			return stores[i%2].RotateRefreshToken(ctx, old.Hash, next, t0)
		})
	}
}

// Whichever of a sign-out and a rotation of one of its session's tokens
// goes first, no token of the family works after both: a sign-out never
// leaves a live refresh token behind.
func testSharedEndSession(t *testing.T, stores [2]store.Store) {
	ctx := t.Context()
	for round := range 2 * rounds {
		old := sampleRefresh(fmt.Sprintf("shared sign-out %d", round))
		if err := stores[0].CreateRefreshToken(ctx, old); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
		next := nextRefresh(old, fmt.Sprintf("shared sign-out %d next", round))
		start := make(chan struct{})
		endErr, rotateErr := make(chan error, 1), make(chan error, 1)
		go func() {
			<-start
			endErr <- stores[0].EndSession(ctx, old.SessionIDHash, true)
		}()
		go func() {
			<-start
			rotateErr <- stores[1].RotateRefreshToken(ctx, old.Hash, next, t0)
		}()
		close(start)
		if err := <-endErr; err != nil {
			t.Fatalf("round %d: EndSession: %v", round, err)
		}
		if err := <-rotateErr; err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("round %d: RotateRefreshToken: err = %v, want nil or ErrNotFound", round, err)
		}
		for _, r := range []store.RefreshToken{old, next} {
			for _, s := range stores {
				if _, err := s.GetRefreshToken(ctx, r.Hash, t0); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("round %d: a token after sign-out: err = %v, want ErrNotFound", round, err)
				}
			}
		}
	}
}
