package config

import (
	"io/fs"
	"strconv"
)

// SocketMode is statsd.unixgram_mode as a file mode; 0 when unset.
func (c *StatsDConfig) SocketMode() (fs.FileMode, error) {
	if c.UnixgramMode == "" {
		return 0, nil
	}
	m, err := strconv.ParseUint(c.UnixgramMode, 8, 32)
	if err != nil || m == 0 || m > 0o777 {
		return 0, Fieldf("unixgram_mode", `expected an octal file mode like "0666", got %s`, quote(c.UnixgramMode))
	}
	return fs.FileMode(m), nil
}
