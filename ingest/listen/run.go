package listen

import (
	"context"
	"errors"
	"sync"
)

// errServing is returned by a second call to Serve.
var errServing = errors.New("listener is already serving")

// runState is the Serve/Close lifecycle shared by the listeners: Serve
// starts the goroutines once, Close stops them once and waits until every
// in-flight handler call has returned, whichever comes first.
type runState struct {
	mu       sync.Mutex
	started  bool
	stopped  bool
	stopping chan struct{}
	wg       sync.WaitGroup
	stop     func() error // wakes the goroutines up (closes sockets)
	stopErr  error
}

func newRunState(stop func() error) *runState {
	return &runState{stopping: make(chan struct{}), stop: stop}
}

// serve starts fns, each in its own goroutine, then blocks until ctx is done
// or close is called, and shuts down.
func (s *runState) serve(ctx context.Context, fns ...func()) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errServing
	}
	s.started = true
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.wg.Add(len(fns))
	for _, fn := range fns {
		go func() {
			defer s.wg.Done()
			fn()
		}()
	}
	s.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-s.stopping:
	}
	return s.close()
}

// goroutine runs fn as one more goroutine that close waits for; it returns
// false if the listener is already stopping.
func (s *runState) goroutine(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// close stops the goroutines and waits for them. It is idempotent.
func (s *runState) close() error {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.stopping)
		s.stopErr = s.stop()
	}
	err := s.stopErr
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// isStopping reports whether close was called, so that a read error caused
// by it is not logged as a failure.
func (s *runState) isStopping() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}
