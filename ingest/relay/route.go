package relay

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Mode says which routes a line takes.
type Mode int

const (
	// MatchFirst sends a line to the targets of the first matching route,
	// as carbon-relay's relay-rules do.
	MatchFirst Mode = iota
	// MatchAll sends a line to the targets of every matching route, each
	// target at most once.
	MatchAll
)

// Route sends the carbon lines whose path matches to its targets.
type Route struct {
	// Match is searched in the path (the first field of the line, tags
	// included); nil matches every line.
	Match *regexp.Regexp
	// Targets are carbon plaintext receivers, "host:port" over TCP.
	Targets []string
}

// maxRouterTargets keeps a line's set of targets in one uint64.
const maxRouterTargets = 64

// Router forwards carbon plaintext lines to legacy carbon servers over TCP,
// chosen per line by regular expressions on the path. Each distinct target
// has one bounded queue and one sender goroutine, as in Relay; a target
// that is down is retried with backoff while its queue absorbs the lines,
// and what does not fit is dropped and counted
// (copenhagen_relay_dropped_total{reason="queue_full"}).
type Router struct {
	routes    []compiledRoute
	mode      Mode
	targets   []*target
	closeOnce sync.Once
	closeErr  error
}

type compiledRoute struct {
	re   *regexp.Regexp
	mask uint64 // bits of Router.targets
}

// NewRouter validates the routes and starts one sender per distinct
// target. Names are resolved when connecting, so a target that is down at
// startup does not prevent it.
func NewRouter(routes []Route, mode Mode, opts Options, reg prometheus.Registerer) (*Router, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	r := &Router{mode: mode}
	index := map[string]int{}
	for i, rt := range routes {
		if len(rt.Targets) == 0 {
			return nil, fmt.Errorf("relay route %d: no targets", i)
		}
		cr := compiledRoute{re: rt.Match}
		for _, spec := range rt.Targets {
			network, addr, err := parseTarget(spec)
			if err != nil {
				return nil, err
			}
			if network != "udp" || strings.Contains(spec, "://") {
				return nil, fmt.Errorf("relay target %q: carbon routes take host:port (TCP)", spec)
			}
			k, ok := index[addr]
			if !ok {
				if len(r.targets) == maxRouterTargets {
					return nil, fmt.Errorf("relay: more than %d distinct targets", maxRouterTargets)
				}
				k = len(r.targets)
				index[addr] = k
				r.targets = append(r.targets, newTCPTarget(addr, addr, opts, m))
			}
			cr.mask |= 1 << k
		}
		r.routes = append(r.routes, cr)
	}
	for _, t := range r.targets {
		go t.run()
	}
	return r, nil
}

// newTCPTarget builds a target whose transport stops retrying when the
// target is closed.
func newTCPTarget(name, addr string, opts Options, m *metrics) *target {
	tr := newTCPTransport(addr)
	t := newTarget(name, tr, opts, m)
	tr.stop = t.stop
	return t
}

// Close sends what the queues hold (giving up at once on targets that are
// down), stops the senders and closes the connections.
func (r *Router) Close() error { return r.CloseContext(context.Background()) }

// CloseContext is Close that gives up waiting when ctx is done, as
// Relay.CloseContext.
func (r *Router) CloseContext(ctx context.Context) error {
	r.closeOnce.Do(func() { r.closeErr = closeTargets(ctx, r.targets) })
	return r.closeErr
}

// maxRouteCache bounds a Sender's cache of routing decisions; a full
// cache is emptied.
const maxRouteCache = 100_000

// Sender routes the lines of one reader goroutine or connection: it
// caches the decision per path (a regex per line would cost more than
// parsing it) and queues each target's lines with one lock per call. It
// is not safe for concurrent use; each goroutine takes its own.
type Sender struct {
	r     *Router
	cache map[string]uint64
	bufs  [][]byte
}

// NewSender returns a Sender for one goroutine.
func (r *Router) NewSender() *Sender {
	return &Sender{r: r, cache: map[string]uint64{}, bufs: make([][]byte, len(r.targets))}
}

// Send routes a block of complete carbon lines. Lines are copied; lines
// matching no route are not relayed.
func (s *Sender) Send(lines []byte) {
	for len(lines) > 0 {
		var ln []byte
		if i := bytes.IndexByte(lines, '\n'); i >= 0 {
			ln, lines = lines[:i], lines[i+1:]
		} else {
			ln, lines = lines, nil
		}
		if len(ln) == 0 {
			continue
		}
		mask := s.route(ln)
		for k := 0; mask != 0; k++ {
			if mask&1 != 0 {
				s.bufs[k] = append(append(s.bufs[k], ln...), '\n')
			}
			mask >>= 1
		}
	}
	for k, b := range s.bufs {
		if len(b) > 0 {
			s.r.targets[k].enqueue(b)
			s.bufs[k] = b[:0]
		}
	}
}

func (s *Sender) route(line []byte) uint64 {
	path := line
	start := 0
	for start < len(path) && (path[start] == ' ' || path[start] == '\t') {
		start++
	}
	path = path[start:]
	if i := bytes.IndexAny(path, " \t"); i >= 0 {
		path = path[:i]
	}
	if mask, ok := s.cache[string(path)]; ok {
		return mask
	}
	var mask uint64
	for _, rt := range s.r.routes {
		if rt.re == nil || rt.re.Match(path) {
			mask |= rt.mask
			if s.r.mode == MatchFirst {
				break
			}
		}
	}
	if len(s.cache) >= maxRouteCache {
		clear(s.cache)
	}
	s.cache[string(path)] = mask
	return mask
}
