package api

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// This file writes the Prometheus text exposition format (version 0.0.4):
//
//	# HELP name text
//	# TYPE name counter|gauge|histogram
//	name{label="value",…} 1.5
//
// Label values escape backslash, double quote and newline; help text
// escapes backslash and newline. Histograms are written as cumulative
// name_bucket{le="…"} series ending in le="+Inf", then name_sum and
// name_count. Output is deterministic: callers pass series in a fixed
// order (sortSeries sorts them by label values).

// PrometheusContentType is the media type of the exposition.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

type label struct{ name, value string }

type expositionWriter struct {
	b strings.Builder
}

// family starts a metric family.
func (w *expositionWriter) family(name, typ, help string) {
	w.b.WriteString("# HELP ")
	w.b.WriteString(name)
	w.b.WriteByte(' ')
	w.b.WriteString(escapeHelp(help))
	w.b.WriteString("\n# TYPE ")
	w.b.WriteString(name)
	w.b.WriteByte(' ')
	w.b.WriteString(typ)
	w.b.WriteByte('\n')
}

// sample writes one series.
func (w *expositionWriter) sample(name string, labels []label, value float64) {
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteString(l.name)
			w.b.WriteString(`="`)
			w.b.WriteString(escapeLabelValue(l.value))
			w.b.WriteByte('"')
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	w.b.WriteString(formatFloat(value))
	w.b.WriteByte('\n')
}

// histogramSamples writes the series of one histogram.
func (w *expositionWriter) histogramSamples(name string, labels []label, h *histogram) {
	bucketLabels := append(slices.Clip(labels), label{"le", ""})
	var cumulative uint64
	for i, bound := range h.bounds {
		cumulative += h.counts[i]
		bucketLabels[len(bucketLabels)-1].value = formatFloat(bound)
		w.sample(name+"_bucket", bucketLabels, float64(cumulative))
	}
	bucketLabels[len(bucketLabels)-1].value = "+Inf"
	w.sample(name+"_bucket", bucketLabels, float64(h.count))
	w.sample(name+"_sum", labels, h.sum)
	w.sample(name+"_count", labels, float64(h.count))
}

func (w *expositionWriter) String() string { return w.b.String() }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabelValue(s string) string { return labelEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }
func escapeHelp(s string) string       { return helpEscaper.Replace(s) }

// histogram counts observations into fixed buckets (upper bounds,
// ascending); counts[i] is the number in (bounds[i-1], bounds[i]], and
// observations above the last bound count only in count.
type histogram struct {
	bounds []float64
	counts []uint64
	sum    float64
	count  uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
}

func (h *histogram) observe(v float64) {
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.bounds) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
}

func (h *histogram) clone() *histogram {
	c := *h
	c.counts = slices.Clone(h.counts)
	return &c
}

// exponentialBounds returns n bounds start, start*factor, ….
func exponentialBounds(start, factor float64, n int) []float64 {
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}
