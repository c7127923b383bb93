// Package listen receives bytes from the network and hands them to protocol
// handlers: UDP and unix datagram sockets deliver one datagram at a time,
// TCP connections deliver blocks of complete newline-terminated lines. It
// knows nothing about StatsD or Graphite, so both endpoints share one
// well-measured receive path.
//
// The package exists because UDP loss is silent: the socket receive buffer
// is the only slack between the kernel and the reader, so the readers here
// read in batches (recvmmsg), never take a lock per datagram, ask the kernel
// for a large buffer, and publish what the kernel dropped for each socket
// (the drops column of /proc/net/udp) as copenhagen_listener_kernel_drops_total.
//
// Every listener counts, with a `listener` label chosen by the caller:
//
//	copenhagen_listener_datagrams_received_total  datagrams read (UDP, unixgram)
//	copenhagen_listener_bytes_received_total      bytes read
//	copenhagen_listener_dropped_total{reason}     datagram_truncated, line_too_long,
//	                                              incomplete_line, connection_limit
//	copenhagen_listener_connections               open TCP connections
//	copenhagen_listener_kernel_drops_total        kernel drops of the UDP socket(s)
//	copenhagen_listener_receive_buffer_bytes      receive buffer the kernel granted
//	copenhagen_listener_kernel_receive_queue_bytes bytes waiting in the socket now
//
// What operators must know: the kernel caps SO_RCVBUF at net.core.rmem_max
// (208 KiB to 4 MiB on most distributions, a few milliseconds of traffic at
// 50 000 datagrams/s). Running as root or with CAP_NET_ADMIN lets the UDP
// listener use SO_RCVBUFFORCE and get the size it asks for; otherwise set
// `sysctl -w net.core.rmem_max=33554432` on the node. The listener logs the
// size it was granted and the sysctl to set when it is smaller.
package listen

// Handler consumes what a listener read. For datagram sockets b is exactly
// one datagram; for TCP it is one or more complete lines, each terminated by
// '\n'. b aliases the reader's buffer and is only valid during the call:
// a handler that keeps bytes must copy them.
//
// Each reader goroutine and each TCP connection gets its own Handler from
// NewHandler, so a Handler is never called concurrently and needs no locks.
type Handler interface {
	Handle(b []byte)
}

// Flusher is implemented by handlers that keep local state (counters, a
// batch of parsed lines) and want to publish it once per read batch instead
// of once per datagram. Flush is called after every batch of reads that
// delivered data, and a last time when the reader or connection ends, so
// nothing is left unpublished.
type Flusher interface {
	Flush()
}

// NewHandler builds the Handler of one reader goroutine or TCP connection.
type NewHandler func() Handler

// HandlerFunc adapts a function to Handler, for handlers with no state.
type HandlerFunc func(b []byte)

// Handle calls f(b).
func (f HandlerFunc) Handle(b []byte) { f(b) }
