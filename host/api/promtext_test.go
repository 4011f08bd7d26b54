package api

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestExpositionWriter(t *testing.T) {
	var w expositionWriter
	w.family("x_total", "counter", "Help with a \\ backslash\nand a newline.")
	w.sample("x_total", nil, 3)
	w.sample("x_total", []label{{"a", `q"u\o` + "\nte"}, {"b", "\xff"}}, 0.25)
	w.family("g", "gauge", "A gauge.")
	w.sample("g", nil, math.Inf(1))
	w.sample("g", []label{{"k", "v"}}, 1e21)
	h := newHistogram([]float64{1, 2.5, 10})
	for _, v := range []float64{0.5, 1, 2, 3, 100} {
		h.observe(v)
	}
	w.family("h", "histogram", "A histogram.")
	w.histogramSamples("h", []label{{"t", "x"}}, h)
	want := `# HELP x_total Help with a \\ backslash\nand a newline.
# TYPE x_total counter
x_total 3
x_total{a="q\"u\\o\nte",b="` + "\uFFFD" + `"} 0.25
# HELP g A gauge.
# TYPE g gauge
g +Inf
g{k="v"} 1e+21
# HELP h A histogram.
# TYPE h histogram
h_bucket{t="x",le="1"} 2
h_bucket{t="x",le="2.5"} 3
h_bucket{t="x",le="10"} 4
h_bucket{t="x",le="+Inf"} 5
h_sum{t="x"} 106.5
h_count{t="x"} 5
`
	if got := w.String(); got != want {
		t.Fatalf("exposition:\n%s\nwant:\n%s", got, want)
	}
	checkExposition(t, w.String())
}

var (
	metricName  = `[a-zA-Z_:][a-zA-Z0-9_:]*`
	helpLine    = regexp.MustCompile(`^# HELP (` + metricName + `) (?:[^\\\n]|\\\\|\\n)*$`)
	typeLine    = regexp.MustCompile(`^# TYPE (` + metricName + `) (counter|gauge|histogram|summary|untyped)$`)
	sampleLine  = regexp.MustCompile(`^(` + metricName + `)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*",?)*\})? (\S+)$`)
	leLabel     = regexp.MustCompile(`,?le="([^"]+)"`)
	familyOfHis = regexp.MustCompile(`_(bucket|sum|count)$`)
)

// checkExposition checks text against the exposition format's grammar:
// every line is a HELP, TYPE or sample line; every sample belongs to a
// family whose TYPE came first; values parse; histogram buckets are
// cumulative and end at +Inf with the count. It returns the samples by
// their series text (name and labels).
func checkExposition(t testing.TB, text string) map[string]float64 {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatal("exposition does not end with a newline")
	}
	types := map[string]string{}
	samples := map[string]float64{}
	lastBucket := map[string]float64{}
	infBuckets := map[string]float64{} // count series → its +Inf bucket
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case helpLine.MatchString(line):
		case typeLine.MatchString(line):
			m := typeLine.FindStringSubmatch(line)
			if _, dup := types[m[1]]; dup {
				t.Errorf("line %d: family %s declared twice", i+1, m[1])
			}
			types[m[1]] = m[2]
		case sampleLine.MatchString(line):
			m := sampleLine.FindStringSubmatch(line)
			name, labels, raw := m[1], m[2], m[3]
			v, err := strconv.ParseFloat(strings.Replace(raw, "+Inf", "Inf", 1), 64)
			if err != nil {
				t.Errorf("line %d: value %q: %v", i+1, raw, err)
			}
			family := name
			if typ, ok := types[name]; !ok || typ == "histogram" {
				family = familyOfHis.ReplaceAllString(name, "")
			}
			if _, ok := types[family]; !ok {
				t.Errorf("line %d: sample of %s before its TYPE", i+1, family)
			}
			series := name + labels
			if _, dup := samples[series]; dup {
				t.Errorf("line %d: series %s twice", i+1, series)
			}
			samples[series] = v
			if family, ok := strings.CutSuffix(name, "_bucket"); ok {
				rest := withoutLe(labels)
				key := family + rest
				if v < lastBucket[key] {
					t.Errorf("line %d: bucket %s is not cumulative", i+1, series)
				}
				lastBucket[key] = v
				if le := leLabel.FindStringSubmatch(labels); le != nil && le[1] == "+Inf" {
					infBuckets[family+"_count"+rest] = v
				}
			}
		default:
			t.Errorf("line %d is not in the exposition format: %q", i+1, line)
		}
	}
	for count, inf := range infBuckets {
		if c, ok := samples[count]; !ok || c != inf {
			t.Errorf("%s is %v, its +Inf bucket %v", count, c, inf)
		}
	}
	return samples
}

// withoutLe removes the le label from a label set.
func withoutLe(labels string) string {
	out := leLabel.ReplaceAllString(labels, "")
	out = strings.Replace(strings.Replace(out, ",}", "}", 1), "{,", "{", 1)
	if out == "{}" {
		return ""
	}
	return out
}

func TestHistogramBuckets(t *testing.T) {
	h := newHistogram(exponentialBounds(1, 2, 4)) // 1 2 4 8
	for _, v := range []float64{0, 1, 1.5, 2, 8, 9} {
		h.observe(v)
	}
	if got := fmt.Sprint(h.counts, h.count, h.sum); got != "[2 2 0 1] 6 21.5" {
		t.Fatalf("counts, count, sum: %s", got)
	}
}
