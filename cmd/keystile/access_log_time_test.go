package main

import (
	"testing"
	"time"
)

// appendLineTime writes what AppendFormat(RFC3339Nano) writes, whether the
// second was formatted already or not, in any zone, and refuses the years
// slog refuses.
func TestAppendLineTimeIsRFC3339Nano(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	base := time.Date(2026, 12, 3, 9, 59, 59, 0, time.UTC)
	var times []time.Time
	for _, loc := range []*time.Location{time.UTC, time.Local, berlin, time.FixedZone("", -(3*3600 + 30*60)), time.FixedZone("odd", 45)} {
		for _, ns := range []int{0, 1, 10, 999_999_999, 500_000_000, 123_456_789, 100} {
			times = append(times, base.Add(time.Duration(ns)).In(loc), base.Add(time.Second+time.Duration(ns)).In(loc))
		}
		// The last second before Berlin's clocks went back, and the first after.
		times = append(times, time.Date(2026, 10, 25, 0, 59, 59, 900, time.UTC).In(loc), time.Date(2026, 10, 25, 1, 0, 0, 1, time.UTC).In(loc))
		times = append(times, time.Unix(-1, 500_000_000).In(loc), time.Unix(0, 0).In(loc), time.Now().In(loc))
	}
	for _, at := range times {
		sameAsAppendFormat(t, at)
	}
	for _, at := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600))} {
		if b, ok := appendLineTime(nil, at); ok {
			t.Errorf("%v: wrote %s, want a refusal", at, b)
		}
	}
}

func FuzzAppendLineTimeIsRFC3339Nano(f *testing.F) {
	f.Add(int64(1796291999), int64(0), 0)
	f.Add(int64(-62135596800), int64(999_999_999), -3600)
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		at := time.Unix(sec, nsec).In(time.FixedZone("z", offset%(24*3600)))
		sameAsAppendFormat(t, at)
		sameAsAppendFormat(t, at.Add(1)) // the same second, formatted already
	})
}

func sameAsAppendFormat(t *testing.T, at time.Time) {
	t.Helper()
	got, ok := appendLineTime([]byte("x"), at)
	y := at.Year()
	if want := at.Round(0).AppendFormat([]byte("x"), time.RFC3339Nano); ok != (y >= 0 && y < 10000) || ok && string(got) != string(want) {
		t.Fatalf("%v: appendLineTime wrote %s, %v; AppendFormat %s", at, got, ok, want)
	}
}
