//go:build race

package keystile

// raceEnabled: the race detector is on, and sync.Pool drops a quarter of
// what is put in it, so allocation counts of pooled paths mean nothing.
const raceEnabled = true
