// Package loadgen drives a bounded load for tests that change a cluster
// while it serves: a few goroutines make requests until stopped, and
// failures are counted, apart for those that began after a mark.
package loadgen

import (
	"sync"
	"sync/atomic"
)

// Load is a running load.
type Load struct {
	OK, Failed atomic.Int64
	// FailedAfterMark counts the failed requests that began after Mark.
	FailedAfterMark atomic.Int64

	marked atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	errors []string
}

// Start calls request from n goroutines, each again as soon as it
// returns, until Stop.
func Start(n int, request func() error) *Load {
	l := &Load{stop: make(chan struct{})}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				after := l.marked.Load()
				if err := request(); err != nil {
					l.fail(after, err)
				} else {
					l.OK.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *Load) fail(after bool, err error) {
	l.Failed.Add(1)
	if after {
		l.FailedAfterMark.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errors) < 5 {
		l.errors = append(l.errors, err.Error())
	}
}

// Mark sets the moment after which failures are also counted in
// FailedAfterMark.
func (l *Load) Mark() { l.marked.Store(true) }

// Stop ends the load and waits for the requests in flight.
func (l *Load) Stop() {
	close(l.stop)
	l.wg.Wait()
}

// Errors returns the first few failures, for a test's message.
func (l *Load) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}
