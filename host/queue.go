package host

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// errQueueTimeout is returned to a request that waited Config.QueueTimeout
// for an instance and got none.
var errQueueTimeout = errors.New("no instance free within the queue timeout")

// acquire takes a token of sem, waiting up to timeout or until ctx is
// done. The wait costs a timer only when there is no token free.
func acquire(ctx context.Context, sem chan struct{}, timeout time.Duration) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return nil
	case <-t.C:
		return errQueueTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

// busy answers 503 with a Retry-After: the guest has no instance for this
// request now, and may have one in a second.
func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}
