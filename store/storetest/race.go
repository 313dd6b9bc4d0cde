package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keystile/keystile/store"
)

// racers is how many goroutines try to consume one record at once.
const racers = 50

// race releases racers goroutines at once through a barrier, each calling
// consume, and checks that exactly one succeeded and every other one got
// loserErr (not a lock or busy error, which a server would turn into a 500).
func race(t *testing.T, loserErr error, consume func(i int) error) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = consume(i)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loserErr):
			t.Errorf("a losing consume: err = %v, want %v", err, loserErr)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent consumes won, want exactly 1", wins, racers)
	}
}

// rounds repeats each race, because one lucky schedule proves little.
const rounds = 5

func testConcurrentConsumeCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range rounds {
		want := sampleCode("race " + string(rune('a'+round)))
		if round%2 == 1 {
			// A code that starts no family: its redemption stores
			// nothing but its use.
			want.FamilyID = ""
		}
		if err := s.CreateCode(ctx, want); err != nil {
			t.Fatalf("CreateCode: %v", err)
		}
		// Every goroutine, winner or loser, gets the code back.
		got := make([]store.AuthCode, racers)
		race(t, store.ErrReused, func(i int) error {
			var err error
			got[i], err = consume(ctx, s, want.Hash, t0)
			return err
		})
		for _, c := range got {
			checkCode(t, "a racer's code", c, want)
		}
	}
}

func testConcurrentUseRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	for round := range rounds {
		id := requestID("race " + string(rune('a'+round)))
		race(t, store.ErrReused, func(int) error {
			return useRequest(ctx, s, id, t0.Add(time.Minute), t0)
		})
	}
}

func testConcurrentCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := sampleCode("create race")
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateCode(ctx, c)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrDuplicate):
			t.Errorf("a losing create: err = %v, want ErrDuplicate", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent creates won, want exactly 1", wins, racers)
	}
}
