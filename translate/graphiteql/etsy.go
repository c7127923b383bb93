package graphiteql

import (
	"strconv"
	"strings"
	"time"
)

// Options describe the etsy statsd daemon whose flushes produced the
// Graphite names that checks and dashboards use. Field names follow the
// daemon's configuration keys (graphite.legacyNamespace, ...). Start from
// DefaultOptions: its values are the daemon's defaults.
type Options struct {
	LegacyNamespace bool   // graphite.legacyNamespace, default true
	GlobalPrefix    string // graphite.globalPrefix, default "stats" (ignored with the legacy namespace)
	PrefixCounter   string // graphite.prefixCounter, default "counters"
	PrefixTimer     string // graphite.prefixTimer, default "timers"
	PrefixGauge     string // graphite.prefixGauge, default "gauges"
	PrefixSet       string // graphite.prefixSet, default "sets"
	PrefixStats     string // prefixStats, default "statsd": the daemon's own metrics
	GlobalSuffix    string // graphite.globalSuffix, default "" (appended as a last segment)
	// PercentThresholds are percentThreshold: the p of upper_p, mean_p,
	// sum_p. Default [90].
	PercentThresholds []float64
	// FlushInterval is flushInterval: the period of every stats value.
	// Default 10s.
	FlushInterval time.Duration
	// RateWindow is the range of rate() and increase() standing in for one
	// flush. rate() needs at least two samples, so a window of one flush
	// would often be empty; default max(1m, 4 × FlushInterval).
	RateWindow time.Duration
	// CarbonInterval is the step of series sent to carbon directly (not
	// through statsd), used where Graphite counts in points (movingAverage
	// with a number, nonNegativeDerivative per point). Default 60s,
	// carbon's default retention step.
	CarbonInterval time.Duration
}

// DefaultOptions returns etsy statsd's defaults.
func DefaultOptions() Options {
	return Options{
		LegacyNamespace:   true,
		GlobalPrefix:      "stats",
		PrefixCounter:     "counters",
		PrefixTimer:       "timers",
		PrefixGauge:       "gauges",
		PrefixSet:         "sets",
		PrefixStats:       "statsd",
		PercentThresholds: []float64{90},
		FlushInterval:     10 * time.Second,
		CarbonInterval:    60 * time.Second,
	}
}

func (o Options) rateWindow() time.Duration {
	if o.RateWindow > 0 {
		return o.RateWindow
	}
	w := 4 * o.flush()
	if w < time.Minute {
		w = time.Minute
	}
	return w
}

func (o Options) flush() time.Duration {
	if o.FlushInterval > 0 {
		return o.FlushInterval
	}
	return 10 * time.Second
}

func (o Options) carbonStep() time.Duration {
	if o.CarbonInterval > 0 {
		return o.CarbonInterval
	}
	return 60 * time.Second
}

// flushKind is what a Graphite name written by statsd's flush is.
type flushKind uint8

const (
	kindCarbon       flushKind = iota // not a statsd flush name: sent to carbon directly
	kindCounterRate                   // stats.x: per-second rate over one flush
	kindCounterCount                  // stats_counts.x: count in one flush
	kindTimer                         // stats.timers.x.<stat>
	kindGauge                         // stats.gauges.x
	kindSet                           // stats.sets.x.count
	kindStatsdSelf                    // the daemon's own metrics
)

// flushName is a Graphite path split into the statsd namespace, the
// statsd metric name and (timers) the statistic.
type flushName struct {
	kind   flushKind
	prefix int       // segments before the statsd name
	name   []Segment // the statsd metric name
	stat   string    // timer statistic (upper_90, mean, ...)
	note   string
}

type namespace struct {
	kind   flushKind
	prefix []string
	suffix []string // fixed segments after the name (before globalSuffix)
}

func (o Options) namespaces() []namespace {
	if o.LegacyNamespace {
		return []namespace{
			{kind: kindStatsdSelf, prefix: []string{"stats", o.PrefixStats}},
			{kind: kindStatsdSelf, prefix: []string{"stats_counts", o.PrefixStats}},
			{kind: kindStatsdSelf, prefix: []string{o.PrefixStats}},
			{kind: kindTimer, prefix: []string{"stats", "timers"}},
			{kind: kindGauge, prefix: []string{"stats", "gauges"}},
			{kind: kindSet, prefix: []string{"stats", "sets"}, suffix: []string{"count"}},
			{kind: kindCounterCount, prefix: []string{"stats_counts"}},
			{kind: kindCounterRate, prefix: []string{"stats"}},
		}
	}
	join := func(p ...string) []string {
		var out []string
		for _, s := range p {
			if s != "" {
				out = append(out, strings.Split(s, ".")...)
			}
		}
		return out
	}
	g := o.GlobalPrefix
	return []namespace{
		{kind: kindStatsdSelf, prefix: join(g, o.PrefixStats)},
		{kind: kindStatsdSelf, prefix: join(g, o.PrefixCounter, o.PrefixStats)},
		{kind: kindTimer, prefix: join(g, o.PrefixTimer)},
		{kind: kindGauge, prefix: join(g, o.PrefixGauge)},
		{kind: kindSet, prefix: join(g, o.PrefixSet), suffix: []string{"count"}},
		{kind: kindCounterRate, prefix: join(g, o.PrefixCounter), suffix: []string{"rate"}},
		{kind: kindCounterCount, prefix: join(g, o.PrefixCounter), suffix: []string{"count"}},
	}
}

// classify finds which statsd flush namespace a path is in. A path that is
// in none of them is a carbon name.
func (o Options) classify(segs []Segment) (flushName, string) {
	var gsuffix []string
	if o.GlobalSuffix != "" {
		gsuffix = strings.Split(strings.TrimPrefix(o.GlobalSuffix, "."), ".")
	}
	for _, ns := range o.namespaces() {
		if len(ns.prefix) == 0 {
			continue
		}
		n := len(segs)
		if n < len(ns.prefix)+len(ns.suffix)+len(gsuffix)+1 {
			continue
		}
		match := true
		for i, p := range ns.prefix {
			lit, ok := segs[i].Literal()
			if !ok {
				if i == 0 && segs[i].Matcher().MatchString(p) {
					return flushName{}, "the first segment is a glob that matches both statsd flush names (" + p + ".) and other names"
				}
				match = false
				break
			}
			if lit != p {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		end := n
		for i := len(gsuffix) - 1; i >= 0; i-- {
			end--
			if lit, ok := segs[end].Literal(); !ok || lit != gsuffix[i] {
				match = false
			}
		}
		for i := len(ns.suffix) - 1; i >= 0 && match; i-- {
			end--
			if lit, ok := segs[end].Literal(); !ok || lit != ns.suffix[i] {
				match = false
			}
		}
		if !match {
			continue
		}
		f := flushName{kind: ns.kind, prefix: len(ns.prefix)}
		if ns.kind == kindTimer {
			end--
			lit, ok := segs[end].Literal()
			if !ok {
				return f, "a glob over timer statistics (" + segs[end].String() + "): each statistic translates differently"
			}
			f.stat = lit
			if end <= len(ns.prefix) {
				continue
			}
		}
		f.name = segs[len(ns.prefix):end]
		if len(f.name) == 0 {
			continue
		}
		if ns.kind == kindCounterRate && len(ns.prefix) >= 1 && len(segs) > len(ns.prefix) {
			if _, ok := segs[len(ns.prefix)].Literal(); !ok && o.LegacyNamespace {
				f.note = "the glob on the segment after \"stats.\" also matches stats.timers/gauges/sets names in Graphite; it is taken as counter names"
			}
		}
		return f, ""
	}
	return flushName{kind: kindCarbon, name: segs}, ""
}

// timerStat parses a timer statistic name: upper_90 -> ("upper", 90).
func (o Options) timerStat(stat string) (base string, pct float64, hasPct bool, ok bool) {
	switch stat {
	case "mean", "upper", "lower", "count", "count_ps", "sum", "sum_squares", "median", "std":
		return stat, 0, false, true
	}
	for _, b := range []string{"sum_squares_", "mean_", "upper_", "lower_", "sum_"} {
		rest, found := strings.CutPrefix(stat, b)
		if !found {
			continue
		}
		rest = strings.Replace(rest, "top", "-", 1)
		p, err := strconv.ParseFloat(strings.Replace(rest, "_", ".", 1), 64)
		if err != nil {
			continue
		}
		for _, t := range o.PercentThresholds {
			if t == p {
				return strings.TrimSuffix(b, "_"), p, true, true
			}
		}
		return strings.TrimSuffix(b, "_"), p, true, false
	}
	return stat, 0, false, false
}
