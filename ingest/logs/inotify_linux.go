package logs

import (
	"context"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watcher is a minimal inotify client: it watches directories and reports
// which one saw activity. It only speeds things up; the periodic checks
// catch whatever it misses (overflow, too many watches).
type watcher struct {
	fd   int
	mu   sync.Mutex
	wds  map[int32]string
	dirs map[string]int32
	full bool
}

func newWatcher() (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &watcher{fd: fd, wds: map[int32]string{}, dirs: map[string]int32{}}, nil
}

const watchMask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_CLOSE_WRITE

func (w *watcher) add(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.dirs[dir]; ok || w.full {
		return
	}
	wd, err := unix.InotifyAddWatch(w.fd, dir, watchMask)
	if err != nil {
		if err == unix.ENOSPC {
			w.full = true // fs.inotify.max_user_watches reached: polling covers the rest
		}
		return
	}
	w.wds[int32(wd)] = dir
	w.dirs[dir] = int32(wd)
}

func (w *watcher) close() { unix.Close(w.fd) }

func (w *watcher) run(ctx context.Context, on func(dir string, created bool)) {
	buf := make([]byte, 64<<10)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for ctx.Err() == nil {
		n, err := unix.Poll(fds, 500)
		if err != nil && err != unix.EINTR {
			return
		}
		if n <= 0 {
			continue
		}
		n, err = unix.Read(w.fd, buf)
		if err != nil || n <= 0 {
			continue
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_IGNORED != 0 {
				w.mu.Lock()
				if d, ok := w.wds[ev.Wd]; ok {
					delete(w.dirs, d)
					delete(w.wds, ev.Wd)
				}
				w.mu.Unlock()
				continue
			}
			w.mu.Lock()
			dir, ok := w.wds[ev.Wd]
			w.mu.Unlock()
			if !ok {
				continue
			}
			created := ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_Q_OVERFLOW) != 0
			on(filepath.Clean(dir), created)
		}
	}
}
