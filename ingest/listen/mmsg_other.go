//go:build unix && !linux

package listen

import "net"

// unixBatchReader reads one datagram per call where recvmmsg is missing.
type unixBatchReader struct {
	conn  *net.UnixConn
	buf   []byte
	n     int
	flags int
}

func newUnixBatchReader(conn *net.UnixConn, _, size int) (*unixBatchReader, error) {
	return &unixBatchReader{conn: conn, buf: make([]byte, size)}, nil
}

func (r *unixBatchReader) readBatch() (int, error) {
	n, _, flags, _, err := r.conn.ReadMsgUnix(r.buf, nil)
	if err != nil {
		return 0, err
	}
	r.n, r.flags = n, flags
	return 1, nil
}

func (r *unixBatchReader) datagram(int) ([]byte, bool) {
	return r.buf[:r.n], r.flags&msgTrunc != 0
}
