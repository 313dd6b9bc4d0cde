package main

import (
	"sync/atomic"
	"time"
)

// appendLineTime appends t as t.AppendFormat(b, time.RFC3339Nano) does, or
// reports false for a year outside [0, 9999], which slog refuses to write
// that way. The date, the clock to the second and the zone are the same
// for every line of one second, so they are formatted once a second
// (lineSecond) and only the fraction is written for each line: the whole
// format cost ~2,000 instructions a request line (callgrind), mostly in
// finding the zone and the date. TestAppendLineTimeIsRFC3339Nano holds it
// to AppendFormat.
func appendLineTime(b []byte, t time.Time) ([]byte, bool) {
	sec, loc := t.Unix(), t.Location()
	s := lastLineSecond.Load()
	if s == nil || s.sec != sec || s.loc != loc {
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		s = newLineSecond(t)
		lastLineSecond.Store(s)
	}
	b = append(b, s.clock...)
	b = appendFraction(b, t.Nanosecond())
	return append(b, s.zone...), true
}

// lineSecond is what appendLineTime writes for every instant of one second
// in one location: the date and clock, and the zone.
type lineSecond struct {
	sec   int64
	loc   *time.Location
	clock string // 2006-01-02T15:04:05
	zone  string // Z or -07:00
}

// lastLineSecond is the second of the last request line.
var lastLineSecond atomic.Pointer[lineSecond]

func newLineSecond(t time.Time) *lineSecond {
	whole := t.Truncate(time.Second).Round(0)
	clock := whole.Format("2006-01-02T15:04:05")
	return &lineSecond{sec: t.Unix(), loc: t.Location(), clock: clock, zone: whole.Format(time.RFC3339)[len(clock):]}
}

// appendFraction appends ns, nanoseconds, as RFC3339Nano writes them: a dot
// and nine digits without the trailing zeros, nothing for 0.
func appendFraction(b []byte, ns int) []byte {
	if ns == 0 {
		return b
	}
	var d [10]byte
	d[0] = '.'
	for i := 9; i > 0; i-- {
		d[i] = byte('0' + ns%10)
		ns /= 10
	}
	n := 10
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}
