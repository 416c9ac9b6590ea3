package host

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// errQueueTimeout is returned to a request that waited Config.QueueTimeout
// for an instance and got none.
var errQueueTimeout = errors.New("no instance free within the queue timeout")

// slots bounds how many guests run at once, and tells Close when none is
// running: a guest's linear memory and code are unmapped when the runtime
// closes, so no guest may still be running then.
type slots struct {
	sem     chan struct{}   // one token per guest running
	closed  atomic.Bool     // set by close, read on every take
	closing context.Context // done once close is called
	cancel  context.CancelCauseFunc
	once    sync.Once
	drained chan struct{} // closed once every slot is back after close
}

func newSlots(n int) *slots {
	s := &slots{sem: make(chan struct{}, n), drained: make(chan struct{})}
	s.closing, s.cancel = context.WithCancelCause(context.Background())
	return s
}

// close refuses new guests from now on and returns a channel that is
// closed once the guests running have given their slots back.
func (s *slots) close() <-chan struct{} {
	s.once.Do(func() {
		s.closed.Store(true)
		s.cancel(errPoolClosed)
		go func() {
			for range cap(s.sem) {
				s.sem <- struct{}{}
			}
			close(s.drained)
		}()
	})
	return s.drained
}

// take waits for a free slot, up to timeout or until ctx is done; after
// close it refuses with errPoolClosed. The wait costs a timer only when
// no slot is free.
func (s *slots) take(ctx context.Context, timeout time.Duration) error {
	select {
	case s.sem <- struct{}{}:
	default:
		if err := s.wait(ctx, timeout); err != nil {
			return err
		}
	}
	if s.closed.Load() {
		s.give()
		return errPoolClosed
	}
	return nil
}

func (s *slots) wait(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-t.C:
		return errQueueTimeout
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing.Done():
		return errPoolClosed
	}
}

// give hands a slot back.
func (s *slots) give() { <-s.sem }

// full reports whether every slot is taken.
func (s *slots) full() bool { return len(s.sem) == cap(s.sem) }

// busy answers 503 with a Retry-After: the guest has no instance for this
// request now, and may have one in a second.
func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}
