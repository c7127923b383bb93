//go:build unix

package config

import "golang.org/x/sys/unix"

// writable reports whether the process may create files in dir. access(2)
// answers for the real user and, unlike the mode bits, knows about
// read-only mounts (EROFS), which is how a systemd unit's
// ProtectSystem=strict shows.
func writable(dir string) error {
	return unix.Access(dir, unix.W_OK|unix.X_OK)
}
