package names

import "math"

// Native histogram schemas client_golang (and so statsd_exporter) can
// pick: -4 (buckets 65536 times wider than the previous) to 8.
const (
	nativeSchemaMin = -4
	nativeSchemaMax = 8
)

// NativeSchema is the native histogram schema the factor gives, picked as
// client_golang picks it: the coarsest whose bucket growth 2^(2^-schema)
// does not exceed NativeFactor (1.1 gives schema 3, growth 1.0905). It is
// only meaningful when Native() is true.
func (l HistogramLayout) NativeSchema() int32 {
	if !l.Native() {
		return nativeSchemaMin
	}
	floor := math.Floor(math.Log2(math.Log2(l.NativeFactor)))
	switch {
	case floor <= -nativeSchemaMax:
		return nativeSchemaMax
	case floor >= -nativeSchemaMin:
		return nativeSchemaMin
	default:
		return -int32(floor)
	}
}

// NativeGrowth is how many times wider each native bucket is than the
// previous at NativeSchema: 2^(2^-schema).
func (l HistogramLayout) NativeGrowth() float64 {
	return math.Exp2(math.Exp2(-float64(l.NativeSchema())))
}

// NativeRelativeError bounds how far histogram_quantile over the native
// histogram can be from the true quantile of the observations, relative
// to it: both lie in the same bucket (lower, lower·growth], so the
// estimate is off by at most growth-1 of the true value (0.0905 for a
// factor of 1.1). It holds while at most NativeMaxBuckets buckets are
// populated; beyond that the resolution is halved and the bound grows to
// growth²-1.
func (l HistogramLayout) NativeRelativeError() float64 {
	return l.NativeGrowth() - 1
}
