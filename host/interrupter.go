package host

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// interrupter is the context of one guest's calls: the watchdog, or the
// end of a CGI run's deadline, stops the guest through it.
//
// Guest code sees an interrupt at its next check (a loop head or the
// entry of a function that calls, see interrupt.go); host code sees it at
// the start of every host function and inside the WASI calls that can
// take long (sleep, output, randomness), so that a guest whose time goes
// into host calls stops as promptly as one that spins. Modules the
// instrumenter did not rewrite have no flag; wazero then watches done.
type interrupter struct {
	done chan struct{}
	flag atomic.Pointer[api.MutableGlobal]
	once sync.Once
	err  atomic.Pointer[error]
}

func newInterrupter() interrupter { return interrupter{done: make(chan struct{})} }

// Deadline, Done, Err and Value make the interrupter a context.Context.
func (c *interrupter) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *interrupter) Done() <-chan struct{}       { return c.done }
func (c *interrupter) Value(key any) any           { return memoryContext.Value(key) }

// Err is the cause of the interrupt, or nil while the guest may run.
func (c *interrupter) Err() error {
	if err := c.err.Load(); err != nil {
		return *err
	}
	return nil
}

// interrupt stops the guest if it is running; the first cause sticks.
func (c *interrupter) interrupt(cause error) {
	c.once.Do(func() {
		c.err.Store(&cause)
		close(c.done)
	})
	if flag := c.flag.Load(); flag != nil {
		(*flag).Set(1)
	}
}

// arm finds the interrupt flag of an instrumented module, and raises it
// at once if an interrupt came before the module existed.
func (c *interrupter) arm(mod api.Module) {
	if flag, ok := mod.ExportedGlobal(interruptGlobal).(api.MutableGlobal); ok {
		c.flag.Store(&flag)
		if c.err.Load() != nil {
			flag.Set(1)
		}
	}
}

// check traps the guest calling into the host once it is interrupted.
func (c *interrupter) check() {
	if err := c.err.Load(); err != nil {
		panic(*err)
	}
}

// sleep is the guest's nanosleep: it ends early when the guest is
// interrupted, which then traps at its next check.
func (c *interrupter) sleep(ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.done:
	}
}

// reader is r for the guest, checking for an interrupt before each read.
func (c *interrupter) reader(r io.Reader) io.Reader { return checkedReader{c, r} }

type checkedReader struct {
	c *interrupter
	r io.Reader
}

func (r checkedReader) Read(p []byte) (int, error) {
	r.c.check()
	return r.r.Read(p)
}

var _ context.Context = (*interrupter)(nil)
