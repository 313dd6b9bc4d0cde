package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	vm "github.com/VictoriaMetrics/metrics"
)

// Metric types, as the exposition's TYPE line spells them.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
)

// family is one metric name and its series. Each family has a
// VictoriaMetrics Set of its own so that its HELP and TYPE lines can be
// written just before its series: the library writes names only.
type family struct {
	name, typ, help string
	buckets         []float64 // histograms: the upper bounds
	set             *vm.Set
}

func newFamily(name, typ, help string) *family {
	return &family{name: name, typ: typ, help: help, set: vm.NewSet()}
}

func newHistogram(name, help string, buckets []float64) *family {
	f := newFamily(name, typeHistogram, help)
	f.buckets = buckets
	return f
}

// counter returns the counter of the series with these labels, given as
// name, value pairs with the names in alphabetical order (the order
// client_golang wrote them in, which dashboards do not care about but
// tests and greps do).
func (f *family) counter(labels ...string) *vm.Counter {
	return f.set.GetOrCreateCounter(f.series(labels))
}

// histogram is counter for a histogram family.
func (f *family) histogram(labels ...string) *vm.PrometheusHistogram {
	return f.set.GetOrCreatePrometheusHistogramExt(f.series(labels), f.buckets)
}

// series spells name{k="v",…}. The values are the server's own (routes,
// grant types, algorithms, operations), never a client's, but they are
// escaped as the text format asks all the same.
func (f *family) series(labels []string) string {
	var b strings.Builder
	b.WriteString(f.name)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(labels[i])
		b.WriteString(`="`)
		labelEscaper.WriteString(&b, labels[i+1])
		b.WriteByte('"')
	}
	if len(labels) > 1 {
		b.WriteByte('}')
	}
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// write writes the family's HELP and TYPE lines and its series.
func (f *family) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
	f.set.WritePrometheus(w)
}

// seriesCache remembers the series of a family by their label values, so
// that a request neither spells a series name nor looks it up by that name
// (about 2,000 instructions each). Keys are label values the server makes
// (a route, a status, an algorithm, a grant type), never a client's, so
// the cache is as bounded as the series themselves.
type seriesCache[K comparable, V any] struct{ m sync.Map }

// get returns the series of k, made by series the first time.
func (c *seriesCache[K, V]) get(k K, series func() V) V {
	if v, ok := c.m.Load(k); ok {
		return v.(V)
	}
	v, _ := c.m.LoadOrStore(k, series())
	return v.(V)
}
