package listen

import (
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// unixBatchReader calls recvmmsg directly: golang.org/x/net only knows
// UDP and IP sockets.
type unixBatchReader struct {
	rc   syscall.RawConn
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	bufs [][]byte
	n    int
	err  error
	fn   func(fd uintptr) bool // bound once, so that reading does not allocate
}

func newUnixBatchReader(conn *net.UnixConn, batch, size int) (*unixBatchReader, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &unixBatchReader{
		rc:   rc,
		hdrs: make([]unix.Mmsghdr, batch),
		iovs: make([]unix.Iovec, batch),
		bufs: make([][]byte, batch),
	}
	slab := make([]byte, batch*size)
	for i := range r.hdrs {
		r.bufs[i] = slab[i*size : (i+1)*size : (i+1)*size]
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(size)
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}
	r.fn = r.recvmmsg
	return r, nil
}

func (r *unixBatchReader) recvmmsg(fd uintptr) bool {
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])),
		uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	switch e {
	case 0:
		r.n, r.err = int(n), nil
	case unix.EAGAIN, unix.EINTR:
		return false // wait in the poller until the socket is readable
	default:
		r.n, r.err = 0, os.NewSyscallError("recvmmsg", e)
	}
	return true
}

func (r *unixBatchReader) readBatch() (int, error) {
	if err := r.rc.Read(r.fn); err != nil {
		return 0, err
	}
	return r.n, r.err
}

func (r *unixBatchReader) datagram(i int) ([]byte, bool) {
	h := &r.hdrs[i]
	return r.bufs[i][:h.Len], h.Hdr.Flags&unix.MSG_TRUNC != 0
}
