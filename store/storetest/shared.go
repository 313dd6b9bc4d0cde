package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// RunShared checks what only two stores on one database can show: that the
// records are the database's, not the process's, and so is the decision of
// every race, as they must be for Keystile replicas sharing one PostgreSQL
// or processes sharing one SQLite file. A credential is still redeemed once
// across both stores, every loser is told it lost (not a lock, busy or
// serialization error, which a server would turn into a 500), and a store
// opened again on the database finds what an earlier one left.
//
// newDatabase is called once per subtest and returns the name of a new,
// empty database (a file path, a URL); open opens a store on it and may be
// called more than once. RunShared closes every store open returns. A
// backend with no way to share a database (memory) does not call RunShared.
func RunShared(t *testing.T, newDatabase func(t *testing.T) string, open func(t *testing.T, database string) store.Store) {
	// As in Run, a backend without an optional role runs none of its cases.
	probe := open(t, newDatabase(t))
	_, hasFeed := probe.(store.RevocationFeed)
	closeStore(t, probe)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, open func() store.Store)
		has  bool // the backend has the role the case tests
	}{
		{"a request id is used once across stores", testSharedUseRequest, true},
		{"a code is consumed once across stores", testSharedConsumeCode, true},
		{"a refresh token is rotated once across stores", testSharedRotate, true},
		{"a sign-out in one store races a rotation in the other", testSharedEndSession, true},
		{"a store opened again finds the records of the last", testReopen, true},
		{"a revocation in one store reaches a follower of the other", testSharedRevocationFeed, hasFeed},
	} {
		if !tc.has {
			t.Logf("not run: the backend lacks the role of %q", tc.name)
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			db := newDatabase(t)
			tc.run(t, func() store.Store {
				t.Helper()
				s := open(t, db)
				var once sync.Once
				t.Cleanup(func() { once.Do(func() { closeStore(t, s) }) })
				return closeOnce{s, &once, t}
			})
		})
	}
}

// closeOnce lets a test close a store early (to open the database again)
// without RunShared's cleanup closing it a second time.
type closeOnce struct {
	store.Store
	once *sync.Once
	t    *testing.T
}

func (c closeOnce) Close() error {
	c.once.Do(func() { closeStore(c.t, c.Store) })
	return nil
}

func closeStore(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func pair(open func() store.Store) [2]store.Store { return [2]store.Store{open(), open()} }

// Racer i uses stores[i%2]: half the racers on each, interleaved.
func testSharedUseRequest(t *testing.T, open func() store.Store) {
	stores := pair(open)
	ctx := t.Context()
	for round := range rounds {
		id := requestID(fmt.Sprintf("shared use %d", round))
		race(t, store.ErrReused, func(i int) error {
			return useRequest(ctx, stores[i%2], id, t0.Add(time.Minute), t0)
		})
	}
}

func testSharedConsumeCode(t *testing.T, open func() store.Store) {
	stores := pair(open)
	ctx := t.Context()
	for round := range rounds {
		c := sampleCode(fmt.Sprintf("shared race %d", round))
		if err := stores[0].CreateCode(ctx, c); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		race(t, store.ErrReused, func(i int) error {
			_, err := consume(ctx, stores[i%2], c.Hash, t0)
			return err
		})
	}
}

func testSharedRotate(t *testing.T, open func() store.Store) {
	stores := pair(open)
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
func testSharedEndSession(t *testing.T, open func() store.Store) {
	stores := pair(open)
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

// The second store finds the first one's records as they were left, used
// or not, and the schema at its version: migrations are not applied twice.
func testReopen(t *testing.T, open func() store.Store) {
	ctx := t.Context()
	s := open()
	kept, used := sampleCode("reopen kept"), sampleCode("reopen used")
	rt := sampleRefresh("reopen")
	for _, err := range []error{
		useRequest(ctx, s, requestID("reopen"), t0.Add(time.Hour), t0),
		s.CreateCode(ctx, kept),
		s.CreateCode(ctx, used),
		s.CreateRefreshToken(ctx, rt),
	} {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if _, err := consume(ctx, s, used.Hash, t0); err != nil {
		t.Fatalf("consume: %v", err)
	}
	s.Close()

	s = open()
	if err := useRequest(ctx, s, requestID("reopen"), t0.Add(time.Hour), t0); !errors.Is(err, store.ErrReused) {
		t.Errorf("a request id used before reopen: err = %v, want ErrReused", err)
	}
	c, err := consume(ctx, s, kept.Hash, t0)
	if err != nil {
		t.Fatalf("consume of the kept code after reopen: %v", err)
	}
	checkCode(t, "the code after reopen", c, kept)
	if _, err := consume(ctx, s, used.Hash, t0); !errors.Is(err, store.ErrReused) {
		t.Errorf("a code consumed before reopen: err = %v, want ErrReused", err)
	}
	grt, err := s.GetRefreshToken(ctx, rt.Hash, t0)
	if err != nil {
		t.Fatalf("GetRefreshToken after reopen: %v", err)
	}
	checkRefresh(t, "the refresh token after reopen", grt, rt)
}
