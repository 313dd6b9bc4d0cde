package main

import (
	"path/filepath"
	"testing"

	"github.com/keystile/keystile/store"
	"github.com/keystile/keystile/store/memory"
	"github.com/keystile/keystile/store/postgres"
	"github.com/keystile/keystile/store/postgres/postgrestest"
	"github.com/keystile/keystile/store/sqlite"
)

// TestMeasureKeepsTheStoresRoles: the metrics wrapper must keep the
// optional roles the server looks for by type assertion. Losing
// store.RevocationFeed would silently send every token verification back
// to the store; losing store.Throttles would stop replicas sharing the
// login throttle.
func TestMeasureKeepsTheStoresRoles(t *testing.T) {
	lite, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	pg, err := postgres.Open(t.Context(), postgrestest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	for _, c := range []struct {
		name               string
		st                 sharedStore
		throttles, follows bool
	}{
		{"memory", memory.New(), false, true},
		{"sqlite", lite, true, false},
		{"postgres", pg, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := measure(c.st, newMetrics(func() float64 { return 0 }))
			if _, ok := m.(store.Throttles); ok != c.throttles {
				t.Errorf("the measured store has store.Throttles: %v, want %v", ok, c.throttles)
			}
			if _, ok := m.(store.RevocationFeed); ok != c.follows {
				t.Errorf("the measured store has store.RevocationFeed: %v, want %v", ok, c.follows)
			}
		})
	}
}
