//go:build !linux

package logs

import (
	"context"
	"errors"
)

// watcher is inotify's stand-in elsewhere: files are polled.
type watcher struct{}

func newWatcher() (*watcher, error) { return nil, errors.New("inotify is Linux only") }

func (w *watcher) add(string)                              {}
func (w *watcher) close()                                  {}
func (w *watcher) run(context.Context, func(string, bool)) {}
