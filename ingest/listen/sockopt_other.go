//go:build unix && !linux

package listen

import (
	"errors"
	"fmt"
	"syscall"
)

const msgTrunc = syscall.MSG_TRUNC

func setReusePort(fd uintptr) error {
	return errors.New("SO_REUSEPORT is only supported on Linux")
}

func setReceiveBuffer(fd uintptr, size int) (granted int, forced bool, err error) {
	if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size); err != nil {
		return 0, false, fmt.Errorf("setting SO_RCVBUF: %w", err)
	}
	got, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	if err != nil {
		return 0, false, fmt.Errorf("reading SO_RCVBUF: %w", err)
	}
	return got, false, nil
}

// socketInode is only useful with /proc/net/udp, which is Linux-only.
func socketInode(rc syscall.RawConn) (uint64, error) {
	return 0, errors.New("socket statistics are only available on Linux")
}
