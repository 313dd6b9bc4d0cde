package main

import (
	"strings"
	"testing"
	"time"
)

// ms1toN returns 1ms, 2ms, … n ms, sorted.
func ms1toN(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{"no values", nil, 50, 0},
		{"one value is every percentile", []time.Duration{7 * time.Millisecond}, 99, 7 * time.Millisecond},
		{"median of an even count is the lower middle", ms1toN(4), 50, 2 * time.Millisecond},
		{"median of an odd count is the middle", ms1toN(5), 50, 3 * time.Millisecond},
		{"p90 of ten is the ninth", ms1toN(10), 90, 9 * time.Millisecond},
		{"p99 of a hundred is the 99th", ms1toN(100), 99, 99 * time.Millisecond},
		{"p99 of a thousand is the 990th", ms1toN(1000), 99, 990 * time.Millisecond},
		{"p99 of ten is the largest", ms1toN(10), 99, 10 * time.Millisecond},
		{"p100 is the maximum", ms1toN(37), 100, 37 * time.Millisecond},
		{"a tiny p is the minimum", ms1toN(37), 0.001, 1 * time.Millisecond},
		{"p90 of 11 rounds the rank up", ms1toN(11), 90, 10 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.values, tc.p); got != tc.want {
				t.Fatalf("percentile(%d values, %v) = %s, want %s", len(tc.values), tc.p, got, tc.want)
			}
		})
	}
}

func TestReportCountsRatesAndFailures(t *testing.T) {
	a, b := newRecorder(), newRecorder()
	for _, d := range ms1toN(60) {
		a.add("token", d, "")
	}
	for _, d := range ms1toN(40) {
		b.add("token", d+60*time.Millisecond, "")
	}
	b.add("token", time.Millisecond, "429")
	b.add("token", time.Millisecond, "429")
	b.add("token", time.Millisecond, "400 invalid_client")
	all := newRecorder()
	all.merge(a)
	all.merge(b)

	res := &results{o: options{mode: "client-credentials", concurrency: 2, issuer: "http://127.0.0.1:9000"}, elapsed: 2 * time.Second, rec: all}
	var out strings.Builder
	if err := res.print(&out); err != nil {
		t.Fatalf("print: %v", err)
	}
	report := out.String()
	fields := rowFields(t, report, "token")
	// requests, errors, req/s (100 successes in 2 s), p50, p90, p99, max
	want := []string{"token", "103", "3", "50.0", "50.00ms", "90.00ms", "99.00ms", "100.00ms"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("token row = %q, want %q\n%s", fields, want, report)
	}
	if !strings.Contains(report, "errors in token: 429 ×2, 400 invalid_client ×1") {
		t.Errorf("the report does not list the errors by status, most frequent first:\n%s", report)
	}
	if got := all.succeeded(); got != 100 {
		t.Errorf("succeeded = %d, want 100", got)
	}
}

// rowFields returns the whitespace-separated fields of the report's row for step.
func rowFields(t *testing.T, report, step string) []string {
	t.Helper()
	for _, line := range strings.Split(report, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == step {
			return f
		}
	}
	t.Fatalf("no row for %s in the report:\n%s", step, report)
	return nil
}
