package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

// config is the statsd command's flags.
type config struct {
	addr         string
	mode         string
	rate         int64
	duration     time.Duration
	names        int
	datagramSize int
	senders      int
	batch        int
	slice        time.Duration
	prefix       string
	metricsURL   string
	wait         time.Duration
	settle       time.Duration
	maxLoss      float64
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen statsd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8125", "StatsD server address")
	fs.StringVar(&c.mode, "mode", "udp", "udp, or tcp for one newline-framed TCP connection")
	fs.Int64Var(&c.rate, "rate", 2_000_000, "lines per second to offer, over all senders (0: as fast as possible)")
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "how long to send")
	fs.IntVar(&c.names, "names", 1000, "distinct counter names")
	fs.IntVar(&c.datagramSize, "datagram-size", 1400, "maximum datagram size in bytes (lines are never split)")
	fs.IntVar(&c.senders, "senders", 2, "UDP sockets sending in parallel (tcp mode uses one connection)")
	fs.IntVar(&c.batch, "batch", 64, "datagrams per sendmmsg call")
	fs.DurationVar(&c.slice, "slice", time.Millisecond, "pacing time slice")
	fs.StringVar(&c.prefix, "prefix", "", "metric name prefix (default lg<random run id>)")
	fs.StringVar(&c.metricsURL, "metrics-url", "", "server /metrics to count the lines it received (empty: do not count)")
	fs.DurationVar(&c.wait, "wait", 2*time.Second, "how long after sending to wait for the count to complete")
	fs.DurationVar(&c.settle, "settle", time.Second, "stop waiting once the count has not grown for this long")
	fs.Float64Var(&c.maxLoss, "max-loss", -1, "exit with status 1 if the loss in percent exceeds this (negative: never)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.mode != "udp" && c.mode != "tcp":
		return c, fmt.Errorf("-mode must be udp or tcp, not %q", c.mode)
	case c.rate < 0:
		return c, errors.New("-rate must not be negative")
	case c.duration <= 0:
		return c, errors.New("-duration must be positive")
	case c.names <= 0:
		return c, errors.New("-names must be positive")
	case c.datagramSize <= 0:
		return c, errors.New("-datagram-size must be positive")
	case c.senders <= 0:
		return c, errors.New("-senders must be positive")
	case c.batch <= 0:
		return c, errors.New("-batch must be positive")
	case c.slice <= 0:
		return c, errors.New("-slice must be positive")
	}
	if c.mode == "tcp" {
		c.senders = 1
	}
	if c.prefix == "" {
		var b [4]byte
		rand.Read(b[:])
		c.prefix = "lg" + hex.EncodeToString(b[:])
	}
	return c, nil
}

// senderStats is what one sender did.
type senderStats struct {
	offered, sent     int64 // lines
	datagrams, errors int64
	firstErr          error
}

func runStatsd(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "loadgen statsd:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	tr := buildTraffic(cfg.prefix, cfg.names, cfg.datagramSize, cfg.senders*cfg.batch)
	fmt.Fprintf(stdout, "loadgen statsd: %s %s, %d sender(s), %d names, datagrams of <= %d bytes (%.1f lines avg), prefix %s\n",
		cfg.mode, cfg.addr, cfg.senders, cfg.names, cfg.datagramSize, tr.avgLines(), cfg.prefix)

	client := &http.Client{Timeout: 5 * time.Second}
	metricPrefix := escapeName(cfg.prefix) + "_"
	var base scrape
	counting := cfg.metricsURL != ""
	if counting {
		if base, err = fetchScrape(ctx, client, cfg.metricsURL, metricPrefix); err != nil {
			fmt.Fprintf(stderr, "loadgen statsd: cannot read %s before sending, not counting: %v\n", cfg.metricsURL, err)
			counting = false
		}
	}

	conns, err := dial(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen statsd:", err)
		return 1
	}
	cpuBefore := cpuTime()
	start := time.Now()
	stats := make([]senderStats, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &sender{cfg: cfg, tr: tr, rate: float64(cfg.rate) / float64(len(conns)), next: i * len(tr.datagrams) / len(conns)}
			if cfg.mode == "tcp" {
				s.tcp = c
			} else {
				s.udp = ipv4.NewPacketConn(c.(*net.UDPConn))
			}
			stats[i] = s.run(ctx, start)
		}()
	}
	wg.Wait()
	sendEnd := time.Now()
	elapsed := sendEnd.Sub(start)
	cpu := cpuTime() - cpuBefore
	for _, c := range conns {
		c.Close()
	}

	var total senderStats
	for _, s := range stats {
		total.offered += s.offered
		total.sent += s.sent
		total.datagrams += s.datagrams
		total.errors += s.errors
		if total.firstErr == nil {
			total.firstErr = s.firstErr
		}
	}
	sendRate := float64(total.sent) / elapsed.Seconds()
	fmt.Fprintf(stdout, "offered   %d lines (%d lines/s requested for %v)\n", total.offered, cfg.rate, cfg.duration)
	fmt.Fprintf(stdout, "sent      %d lines in %d datagrams in %v: %.0f lines/s, %.0f datagrams/s; %d send errors; loadgen used %.2fs CPU\n",
		total.sent, total.datagrams, elapsed.Round(time.Millisecond), sendRate, float64(total.datagrams)/elapsed.Seconds(), total.errors, cpu.Seconds())
	if total.firstErr != nil {
		fmt.Fprintf(stdout, "          first send error: %v\n", total.firstErr)
	}
	if want := float64(cfg.rate) * cfg.duration.Seconds(); cfg.rate > 0 && float64(total.offered) < 0.99*want {
		fmt.Fprintf(stdout, "          the generator fell behind: it offered %.1f%% of the %.0f lines requested (CPU starved?)\n",
			100*float64(total.offered)/want, want)
	}

	counted, lossPct, catchup := -1.0, -1.0, -1.0
	kernelDrops, rejected := "n/a", "n/a"
	if counting {
		res, err := waitForCount(ctx, client, cfg.metricsURL, metricPrefix, base, float64(total.sent),
			sendEnd, cfg.wait, cfg.settle, 100*time.Millisecond)
		if err != nil && res.final.series == 0 && res.final.counted == 0 {
			fmt.Fprintf(stderr, "loadgen statsd: reading %s: %v\n", cfg.metricsURL, err)
		}
		counted = res.final.counted - base.counted
		if total.sent > 0 {
			lossPct = 100 * (float64(total.sent) - counted) / float64(total.sent)
		}
		catchup = res.catchup.Seconds()
		if res.final.haveKernel {
			kernelDrops = fmt.Sprintf("%.0f", res.final.kernelDrops-base.kernelDrops)
		}
		if res.final.haveRejected {
			rejected = fmt.Sprintf("%.0f", res.final.rejected-base.rejected)
		}
		state := "fully counted"
		if counted < float64(total.sent) {
			state = "count stopped growing"
			if !res.settled {
				state = "still counting when -wait ran out"
			}
		}
		fmt.Fprintf(stdout, "counted   %.0f lines in %d series: loss %.3f%%; %s %.2fs after sending ended\n",
			counted, res.final.series, lossPct, state, catchup)
		fmt.Fprintf(stdout, "server    kernel drops %s, lines rejected %s (during the run)\n", kernelDrops, rejected)
	}
	fmt.Fprintf(stdout, "summary mode=%s addr=%s rate=%d duration_s=%.3f senders=%d names=%d datagram_size=%d lines_per_datagram=%.1f offered=%d sent=%d datagrams=%d send_errors=%d send_rate=%.0f counted=%.0f loss_pct=%.4f catchup_s=%.3f kernel_drops=%s rejected=%s loadgen_cpu_s=%.2f prefix=%s\n",
		cfg.mode, cfg.addr, cfg.rate, elapsed.Seconds(), len(conns), cfg.names, cfg.datagramSize, tr.avgLines(),
		total.offered, total.sent, total.datagrams, total.errors, sendRate, counted, lossPct, catchup, kernelDrops, rejected, cpu.Seconds(), cfg.prefix)
	if cfg.maxLoss >= 0 && (lossPct < 0 || lossPct > cfg.maxLoss) {
		return 1
	}
	return 0
}

func dial(cfg config) ([]net.Conn, error) {
	var conns []net.Conn
	for range cfg.senders {
		c, err := net.Dial(cfg.mode, cfg.addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// cpuTime is the CPU the process used so far, to tell how much of the
// shared machine the generator took from the server.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sender paces one socket: every time slice it sends what the rate says is
// due since the start, so that a late wake-up is caught up rather than
// lost, and sleeps when it is ahead.
type sender struct {
	cfg  config
	tr   traffic
	rate float64 // lines per second for this sender; 0 is unpaced
	next int     // next datagram of tr
	udp  *ipv4.PacketConn
	tcp  net.Conn
	msgs []ipv4.Message
	buf  []byte
}

func (s *sender) run(ctx context.Context, start time.Time) senderStats {
	var st senderStats
	s.msgs = make([]ipv4.Message, s.cfg.batch)
	for i := range s.msgs {
		s.msgs[i].Buffers = make([][]byte, 1)
	}
	end := start.Add(s.cfg.duration)
	for ctx.Err() == nil {
		now := time.Now()
		last := !now.Before(end)
		if last {
			now = end // send exactly what the whole duration was due
		}
		due := int64(-1) // unpaced
		if s.rate > 0 {
			due = int64(s.rate * now.Sub(start).Seconds())
		}
		for due < 0 || st.offered < due {
			if !s.send(&st, due) {
				return st // the TCP connection is gone
			}
			// A generator that cannot keep up stops at the deadline
			// anyway: the report then shows the rate it achieved instead
			// of a run that silently lasted longer.
			if t := time.Now(); (due < 0 && !t.Before(end)) || t.After(end.Add(s.cfg.slice)) {
				return st
			}
		}
		if last {
			return st
		}
		if s.rate > 0 {
			time.Sleep(s.cfg.slice)
		}
	}
	return st
}

// send sends one batch, at most the lines still due (due < 0: no limit,
// but at least one datagram).
func (s *sender) send(st *senderStats, due int64) bool {
	n, lines := 0, int64(0)
	first := s.next
	for n < len(s.msgs) {
		l := int64(s.tr.lines[s.next])
		if n > 0 && due >= 0 && st.offered+lines+l > due {
			break
		}
		s.msgs[n].Buffers[0] = s.tr.datagrams[s.next]
		n++
		lines += l
		s.next = (s.next + 1) % len(s.tr.datagrams)
	}
	st.offered += lines
	if s.tcp != nil {
		return s.sendTCP(st, first, n, lines)
	}
	for i := 0; i < n; {
		k, err := s.udp.WriteBatch(s.msgs[i:n], 0)
		k = max(k, 0)
		for j := i; j < i+k; j++ {
			st.sent += int64(s.tr.lines[(first+j)%len(s.tr.datagrams)])
		}
		st.datagrams += int64(k)
		i += k
		if err != nil {
			// The datagram the error is about is lost; go on with the rest.
			st.errors++
			if st.firstErr == nil {
				st.firstErr = err
			}
			i++
		}
	}
	return true
}

// sendTCP writes the batch as newline-terminated lines in one write.
func (s *sender) sendTCP(st *senderStats, first, n int, lines int64) bool {
	s.buf = s.buf[:0]
	for i := range n {
		s.buf = append(s.buf, s.tr.datagrams[(first+i)%len(s.tr.datagrams)]...)
		s.buf = append(s.buf, '\n')
	}
	if _, err := s.tcp.Write(s.buf); err != nil {
		st.errors++
		if st.firstErr == nil {
			st.firstErr = err
		}
		return false
	}
	st.sent += lines
	st.datagrams += int64(n)
	return true
}
