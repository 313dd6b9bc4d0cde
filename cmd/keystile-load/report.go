package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// recorder collects one worker's requests, step by step. Each worker has its
// own, so recording takes no lock; load merges them at the end.
type recorder struct {
	steps map[string]*stepStats
	order []string // steps in the order first seen, for the report
}

// stepStats is one step: the latency of every success, and the failures
// counted by what went wrong.
type stepStats struct {
	latencies []time.Duration
	failures  map[string]int
	// firstTransport is the first transport error's text: every one names
	// its own ports, so they are counted under one key and this one shown.
	firstTransport string
}

func newRecorder() *recorder { return &recorder{steps: map[string]*stepStats{}} }

func (r *recorder) step(name string) *stepStats {
	s, ok := r.steps[name]
	if !ok {
		s = &stepStats{failures: map[string]int{}}
		r.steps[name] = s
		r.order = append(r.order, name)
	}
	return s
}

// add records one request of step that took d; failure is "" for a success.
func (r *recorder) add(step string, d time.Duration, failure string) {
	s := r.step(step)
	if failure == "" {
		s.latencies = append(s.latencies, d)
		return
	}
	s.failures[failure]++
}

// transportError records a request of step that got no HTTP answer. The
// URL is left out of the text: an authorization request's query is long.
func (r *recorder) transportError(step string, err error) {
	s := r.step(step)
	s.failures[transportFailure]++
	if s.firstTransport == "" {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		s.firstTransport = err.Error()
	}
}

const transportFailure = "transport error"

func (r *recorder) merge(o *recorder) {
	for _, name := range o.order {
		s, from := r.step(name), o.steps[name]
		s.latencies = append(s.latencies, from.latencies...)
		for k, n := range from.failures {
			s.failures[k] += n
		}
		if s.firstTransport == "" {
			s.firstTransport = from.firstTransport
		}
	}
}

// succeeded counts the successful requests of every step but the "flow"
// pseudo-step, which is made of other steps' requests.
func (r *recorder) succeeded() int {
	n := 0
	for name, s := range r.steps {
		if name != "flow" {
			n += len(s.latencies)
		}
	}
	return n
}

// failureSummary lists every failure, "login: 429 ×2; token: 400 invalid_grant ×1".
func (r *recorder) failureSummary() string {
	var parts []string
	for _, name := range r.order {
		if f := r.steps[name].failureList(); f != "" {
			parts = append(parts, name+": "+f)
		}
	}
	if len(parts) == 0 {
		return "no failure recorded"
	}
	return strings.Join(parts, "; ")
}

// failureList is "429 ×2, transport error ×1", most frequent first.
func (s *stepStats) failureList() string {
	keys := slices.Collect(maps.Keys(s.failures))
	slices.SortFunc(keys, func(a, b string) int {
		if c := s.failures[b] - s.failures[a]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, s.failures[k])
		if k == transportFailure && s.firstTransport != "" {
			parts[i] += " (first: " + s.firstTransport + ")"
		}
	}
	return strings.Join(parts, ", ")
}

func (s *stepStats) failed() int {
	n := 0
	for _, c := range s.failures {
		n += c
	}
	return n
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted
// values: the smallest value that at least p % of them do not exceed. Zero
// for no values. Nearest rank never invents a latency that was not measured.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p*n/100 rather than p/100*n: 90*10/100 is exactly 9 in floating point,
	// 0.9*10 need not be.
	rank := int(math.Ceil(p * float64(n) / 100))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// results is a finished run.
type results struct {
	o       options
	elapsed time.Duration // from the first request to the end of the last
	rec     *recorder
}

// print writes the report: per step, the requests sent, the failures, the
// rate, and the latency percentiles of the successes (a fast 429 would
// otherwise make the server look quicker than it is).
func (res *results) print(w io.Writer) error {
	fmt.Fprintf(w, "keystile-load: %s, concurrency %d, %s against %s\n",
		res.o.mode, res.o.concurrency, res.elapsed.Round(time.Millisecond), res.o.issuer)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	secs := res.elapsed.Seconds()
	labels := make([]string, len(res.rec.order))
	width := len("step")
	for i, name := range res.rec.order {
		labels[i] = name
		if name == "flow" {
			labels[i] = "flow (whole sign-in)"
		}
		width = max(width, len(labels[i]))
	}
	// Numbers align right, step names left: padding the names to one width
	// makes right alignment put them flush left.
	fmt.Fprintf(tw, "%-*s\trequests\terrors\treq/s\tp50\tp90\tp99\tmax\t\n", width, "step")
	for i, name := range res.rec.order {
		s := res.rec.steps[name]
		lat := slices.Clone(s.latencies)
		slices.Sort(lat)
		ok, failed := len(lat), s.failed()
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", width, labels[i], ok+failed, failed, float64(ok)/secs,
			ms(percentile(lat, 50)), ms(percentile(lat, 90)), ms(percentile(lat, 99)), ms(percentile(lat, 100)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "req/s counts successes; latencies are of successes, from sending to the last byte read.")
	for _, name := range res.rec.order {
		if f := res.rec.steps[name].failureList(); f != "" {
			fmt.Fprintf(w, "errors in %s: %s\n", name, f)
		}
	}
	_, err := fmt.Fprintf(w, "successful requests: %d\n", res.rec.succeeded())
	return err
}

// ms prints a latency in milliseconds, the unit that suits every figure
// here, from a JWKS fetch (tens of µs) to a login (hundreds of ms).
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
