package listen

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// msgTrunc is the recvmsg flag telling that a datagram did not fit.
const msgTrunc = unix.MSG_TRUNC

// setReusePort lets several sockets bind the same address; the kernel then
// spreads datagrams over them by source address and port.
func setReusePort(fd uintptr) error {
	if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fmt.Errorf("setting SO_REUSEPORT: %w", err)
	}
	return nil
}

// setReceiveBuffer asks for size bytes of receive buffer. SO_RCVBUFFORCE
// ignores net.core.rmem_max but needs CAP_NET_ADMIN; without it SO_RCVBUF is
// silently capped at rmem_max. It returns the size the kernel granted (the
// kernel reports twice the usable size; the half is returned so that it
// compares with what was asked) and whether the forced variant worked.
func setReceiveBuffer(fd uintptr, size int) (granted int, forced bool, err error) {
	s := int(fd)
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); err == nil {
		forced = true
	} else if !errors.Is(err, unix.EPERM) {
		return 0, false, fmt.Errorf("setting SO_RCVBUFFORCE: %w", err)
	} else if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
		return 0, false, fmt.Errorf("setting SO_RCVBUF: %w", err)
	}
	got, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0, forced, fmt.Errorf("reading SO_RCVBUF: %w", err)
	}
	return got / 2, forced, nil
}

// socketInode returns the inode of the socket, the key of its line in
// /proc/net/udp.
func socketInode(rc syscall.RawConn) (uint64, error) {
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("fstat socket: %w", serr)
	}
	return st.Ino, nil
}
