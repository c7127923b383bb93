// Package streams turns where a log file is (a Kubernetes pod log path, or
// a VM file with static labels) into Loki stream labels and structured
// metadata.
//
// Stream labels are kept few and bounded (namespace, app, container, job,
// node, stream): a Loki stream per pod would multiply the index with every
// deployment. The pod name and uid, which change on every rollout, go to
// structured metadata instead, where they can still be filtered on.
// Limits on the number of streams and the length of label values keep a
// misbehaving source from overloading Loki; hitting them is counted, and
// the lines still go through.
package streams

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Pod is what a kubelet log path tells about a container.
type Pod struct {
	Namespace, Name, UID, Container string
}

// ParsePodPath reads /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log.
// Pod names cannot contain '_', namespaces neither, so the split is exact.
func ParsePodPath(path string) (Pod, bool) {
	parts := strings.Split(path, "/")
	if len(parts) < 3 {
		return Pod{}, false
	}
	podDir, container := parts[len(parts)-3], parts[len(parts)-2]
	f := strings.Split(podDir, "_")
	if len(f) != 3 || f[0] == "" || f[1] == "" || container == "" {
		return Pod{}, false
	}
	return Pod{Namespace: f[0], Name: f[1], UID: f[2], Container: container}, true
}

// safe is the alphabet Kubernetes uses for generated name suffixes
// (k8s.io/apimachinery/pkg/util/rand): no vowels, so no words.
const safe = "bcdfghjklmnpqrstvwxz2456789"

func allIn(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return s != ""
}

func allDigits(s string) bool { return allIn(s, "0123456789") }

// AppName strips the suffixes controllers add to pod names:
//
//	deployment  web-7d4b9c8f6d-x2x9k  -> web   (pod-template-hash, random)
//	daemonset   fluent-bit-7xk2p      -> fluent-bit
//	job         backup-8v4kq          -> backup
//	cronjob     report-28712345-l2c4x -> report (schedule minute, random)
//	statefulset mysql-0               -> mysql (the ordinal; the pod name
//	                                      stays in structured metadata)
//
// A bare pod keeps its name. The random suffixes use an alphabet without
// vowels, so a real word such as "proxy" in "web-proxy" is never taken for
// one.
func AppName(pod string) string {
	name := pod
	cut := func() (string, string) {
		i := strings.LastIndexByte(name, '-')
		if i <= 0 {
			return name, ""
		}
		return name[:i], name[i+1:]
	}
	head, last := cut()
	switch {
	case len(last) == 5 && allIn(last, safe):
		name = head
		h2, prev := cut()
		if (len(prev) >= 6 && len(prev) <= 10 && allIn(prev, safe)) || (len(prev) >= 8 && allDigits(prev)) {
			name = h2
		}
	case allDigits(last) && len(last) <= 5:
		name = head
	}
	return name
}

// Options bound the labels.
type Options struct {
	Node string // the node label; "" leaves it out
	// MaxStreams is how many distinct label sets are handed out; files
	// beyond it go to one overflow stream per node, with their labels in
	// structured metadata. 0 means no limit.
	MaxStreams int
	// MaxLabelValueLength cuts longer values (Loki refuses the whole push
	// otherwise). 0 means 2048, Loki's default.
	MaxLabelValueLength int
}

// Labeler builds the labels of files.
type Labeler struct {
	opts Options

	mu      sync.Mutex
	streams map[string]int // rendered label set -> files using it

	limitHits *prometheus.CounterVec
	active    prometheus.Gauge
}

// NewLabeler registers its metrics with reg (nil: not registered).
func NewLabeler(opts Options, reg prometheus.Registerer) *Labeler {
	if opts.MaxLabelValueLength <= 0 {
		opts.MaxLabelValueLength = 2048
	}
	f := promauto.With(reg)
	l := &Labeler{opts: opts, streams: map[string]int{},
		limitHits: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_logs_label_limit_hits_total",
			Help: "Label limits hit, by reason: stream_limit (a file's lines went to the overflow stream), label_value_too_long (a value was cut).",
		}, []string{"reason"}),
		active: f.NewGauge(prometheus.GaugeOpts{
			Name: "copenhagen_logs_streams",
			Help: "Distinct stream label sets of the files being tailed (per stdout/stderr).",
		}),
	}
	l.limitHits.WithLabelValues("stream_limit")
	l.limitHits.WithLabelValues("label_value_too_long")
	return l
}

// File is the labelling of one file: a rendered stream selector per output
// stream (index: 0 none, 1 stdout, 2 stderr) and the structured metadata
// shared by its entries.
type File struct {
	Labels   [3]string
	Metadata push.LabelsAdapter
	release  func()
}

// Release gives the file's streams back to the stream limit.
func (f *File) Release() {
	if f.release != nil {
		f.release()
		f.release = nil
	}
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ValidLabelName reports whether Loki accepts name.
func ValidLabelName(name string) bool { return labelName.MatchString(name) }

// ForFile labels the file at path. static are the labels configured for
// the file (logs.files); for a pod log path the Kubernetes labels are added
// (static ones win). Every file has a job label: the static one, else
// namespace/app for pods, else the file's base name.
func (l *Labeler) ForFile(path string, static map[string]string) *File {
	base := map[string]string{}
	var md push.LabelsAdapter
	if pod, ok := ParsePodPath(path); ok {
		app := AppName(pod.Name)
		base["namespace"] = pod.Namespace
		base["app"] = app
		base["container"] = pod.Container
		base["job"] = pod.Namespace + "/" + app
		md = push.LabelsAdapter{{Name: "pod", Value: pod.Name}, {Name: "pod_uid", Value: pod.UID}}
	} else {
		md = push.LabelsAdapter{{Name: "filename", Value: path}}
		name := path[strings.LastIndexByte(path, '/')+1:]
		base["job"] = strings.TrimSuffix(name, ".log")
	}
	if l.opts.Node != "" {
		base["node"] = l.opts.Node
	}
	for k, v := range static {
		base[k] = v
	}
	for k, v := range base {
		if len(v) > l.opts.MaxLabelValueLength {
			l.limitHits.WithLabelValues("label_value_too_long").Inc()
			cut := l.opts.MaxLabelValueLength
			for cut > 0 && v[cut]&0xC0 == 0x80 {
				cut--
			}
			base[k] = v[:cut]
		}
		if v == "" {
			delete(base, k)
		}
	}
	f := &File{Metadata: md}
	var keys []string
	for s, name := range [3]string{"", "stdout", "stderr"} {
		set := base
		if name != "" {
			set = clone(base)
			set["stream"] = name
		}
		f.Labels[s] = Render(set)
	}
	l.mu.Lock()
	over := false
	if l.opts.MaxStreams > 0 {
		n := len(l.streams)
		for _, k := range f.Labels {
			if _, ok := l.streams[k]; !ok {
				n++
			}
		}
		over = n > l.opts.MaxStreams
	}
	if over {
		l.limitHits.WithLabelValues("stream_limit").Inc()
		// Nothing is dropped: the lines go to one bounded stream, and
		// what would have been labels goes along as metadata.
		ov := map[string]string{"overflow": "true"}
		if l.opts.Node != "" {
			ov["node"] = l.opts.Node
		}
		md = slices.Clone(md)
		for _, k := range sortedKeys(base) {
			if k != "node" {
				md = append(md, push.LabelAdapter{Name: k, Value: base[k]})
			}
		}
		f.Metadata = md
		r := Render(ov)
		f.Labels = [3]string{r, r, r}
	}
	for _, k := range f.Labels {
		if l.streams[k] == 0 {
			keys = append(keys, k)
		}
		l.streams[k]++
	}
	_ = keys
	l.active.Set(float64(len(l.streams)))
	l.mu.Unlock()
	labels := f.Labels
	f.release = func() {
		l.mu.Lock()
		for _, k := range labels {
			if l.streams[k]--; l.streams[k] <= 0 {
				delete(l.streams, k)
			}
		}
		l.active.Set(float64(len(l.streams)))
		l.mu.Unlock()
	}
	return f
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Render writes a label set as a LogQL stream selector, names sorted:
// {app="web",namespace="prod"}.
func Render(set map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range sortedKeys(set) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteString(`="`)
		v := set[k]
		for j := 0; j < len(v); j++ {
			switch c := v[j]; c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// WithLevel returns md plus a level pair, cached per level so that
// entries share it.
type WithLevel struct {
	base  push.LabelsAdapter
	cache map[string]push.LabelsAdapter
}

// NewWithLevel prepares the metadata variants of one file.
func NewWithLevel(md push.LabelsAdapter) *WithLevel {
	return &WithLevel{base: md, cache: map[string]push.LabelsAdapter{}}
}

// Get is the metadata for an entry of the given level ("" for none). Not
// safe for concurrent use: one per file.
func (w *WithLevel) Get(level string) push.LabelsAdapter {
	if level == "" {
		return w.base
	}
	md, ok := w.cache[level]
	if !ok {
		md = append(slices.Clip(w.base), push.LabelAdapter{Name: "level", Value: level})
		w.cache[level] = md
	}
	return md
}
