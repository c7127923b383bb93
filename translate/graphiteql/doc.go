// Package graphiteql parses Graphite render targets (the expressions of
// Seyren checks and dashboard panels) and translates them into PromQL over
// the series Copenhagen writes, or says why it cannot. A wrong rule that
// looks right is worse than no rule: anything without a faithful
// equivalent is Untranslated with the reason, and every approximation is
// listed in the Result's Notes (Status Partial).
//
// # Using it
//
//	statsd, _ := names.Load("statsd-mapping.yml")     // nil or names.Empty(): no rules
//	carbon, _ := names.Load("graphite-mapping.yml")
//	r := graphiteql.NewResolver(statsd, carbon, graphiteql.DefaultOptions())
//
//	// Graph semantics (dashboards): the PromQL draws what Graphite drew.
//	res := graphiteql.Translate("sumSeries(stats.api.http.*.500)", r, graphiteql.TranslateOptions{})
//
//	// Seyren semantics: the last non-null value of each series in the
//	// check's [from, until] window, ready for a threshold comparison.
//	from, _ := graphiteql.ParseOffset("-11minutes")
//	until, _ := graphiteql.ParseOffset("-1minutes")
//	res = graphiteql.TranslateLast(target, r, graphiteql.TranslateOptions{From: from, Until: until})
//	if res.Status != graphiteql.Untranslated {
//		rule := res.PromQL + " >= 80"   // Seyren's thresholds are inclusive
//	}
//
// LastNonNull does the window reduction alone for an expression already
// translated. Parse, Format and the AST are exported for tools that edit
// targets (dashboard converters); a syntax error is an *Error with the
// byte offset and the column.
//
// # Names
//
// A path is first placed in etsy statsd's flush namespaces (Options:
// legacyNamespace, prefixes, globalSuffix, percentThresholds,
// flushInterval): stats.x and stats_counts.x are counter x,
// stats.timers.x.<stat> timer x, stats.gauges.x gauge x,
// stats.sets.x.count set x; other paths are carbon names. The StatsD or
// carbon name pattern then goes through the same mapping rules ingestion
// uses (names.Mapper.MapPattern), so globs on segments that became labels
// become label matchers, globs inside metric names become __name__
// matchers, and a pattern that several rules share becomes a union.
// Unmapped names are escaped as ingestion escapes them.
//
// Values keep Graphite's units: timers were milliseconds in Graphite and
// are observed in seconds, so their statistics are multiplied by 1000;
// a rule's scale is divided back out. Counter statistics of one flush
// (stats.x, stats_counts.x, count, count_ps, sum, mean) come from rate()
// over Options.RateWindow: they are averages over that window (Partial).
// upper_<p> and median come from histogram_quantile on histograms, or the
// summary's quantile when it has that one; upper, lower, std, sum_squares
// and mean_<p>/sum_<p> have no source and are Untranslated.
//
// How a timer is stored comes from names.Mapper.Histogram, the answer
// ingestion uses. A timer whose rule (or the defaults) sets
// native_histogram_bucket_factor is one native histogram series:
// histogram_quantile(q, rate(name[w])), histogram_count and histogram_sum
// of the rate, and the mean as histogram_sum / histogram_count (what
// histogram_avg computes, but Prometheus before 2.50 lacks it). Its
// quantiles are within the bucket growth minus one of the true value,
// relative (9.1% for a factor of 1.1), where classic buckets are off by up
// to the width of the bucket holding the quantile; so when both layouts
// are kept the native histogram is queried.
//
// # Functions
//
// Translated (values as in Graphite): sumSeries/sum, averageSeries/avg,
// maxSeries/max, minSeries/min, stddevSeries, sumSeriesWithWildcards,
// averageSeriesWithWildcards, groupByNode(s) (sum, avg, max, min, count,
// stddev, range), scale, offset, pow, absolute, invert, divideSeries,
// asPercent, removeBelowValue, removeAboveValue, timeShift on a selector,
// constantLine, seriesByTag with name=; with Seyren semantics
// also currentAbove/Below, averageAbove/Below, maximumAbove/Below,
// minimumAbove/Below, highestCurrent/Average/Max, lowestCurrent/Average.
//
// Partial (the notes say how): movingAverage/Sum/Max/Min/Median and stdev
// (window edges), countSeries, diffSeries, perSecond,
// nonNegativeDerivative, derivative, summarize, hitcount, keepLastValue,
// transformNull (single series only), limit, exclude/grep (a literal word
// in one labelled node), percentileOfSeries, nPercentile, groupByNode
// with median, anything computed through a subquery, and the series filters above in graph semantics.
//
// Legend only (the series are returned unchanged, the note gives the
// legendFormat): alias, aliasByNode, aliasByMetric, aliasSub, aliasByTags
// and the drawing functions (color, lineWidth, stacked ...).
//
// Untranslated with the reason: integral, holtWinters*, timeStack,
// multiplySeries, removeAbove/BelowPercentile, mostDeviant, and every
// function not listed.
package graphiteql
