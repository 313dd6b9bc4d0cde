//go:build !race

package keystile

const raceEnabled = false
