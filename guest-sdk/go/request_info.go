package guest

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net/http"
	"sync"
	"time"
)

// hostDeadline is get_deadline of wasmcluster's own host module (see
// ../ABI.md), or nil outside a Wasm build.
var hostDeadline func(buf []byte) int64

// requestContext is every request's context, reset for each: like the
// rest of the request, it is reused (a handler must not keep it).
var requestContext deadlineContext

// emptyRequest is the http.Request every request starts from: empty, but
// in a Wasm build for its context, requestContext, which only WithContext
// can set and which would cost an allocation per request.
var emptyRequest http.Request

// infoBuf receives get_deadline's result.
var infoBuf [8]byte

// withRequestInfo completes r, made from emptyRequest, with what the public
// ABI does not carry: a non-nil TLS for a request that came over HTTPS, as
// net/http gives, and a fresh context, which asks the host for the
// request's deadline when the handler first wants it.
func withRequestInfo(r *http.Request, https bool) *http.Request {
	if https {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	requestContext.reset()
	return r
}

// hostDeadlineTime asks the host when it interrupts the request.
func hostDeadlineTime() (time.Time, bool) {
	if hostDeadline(infoBuf[:]) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(infoBuf[:]))), true
}

// deadlineContext is a context.Context that expires at deadline. Unlike
// context.WithDeadline it starts a timer only when Done is called: a timer
// per request costs a Go guest more than the rest of a small request, and
// most handlers only ask for the deadline, or nothing.
type deadlineContext struct {
	asked    bool // deadline and has are known
	deadline time.Time
	has      bool // there is a deadline
	mu       sync.Mutex
	done     chan struct{}
	timer    *time.Timer
	err      error
}

func (c *deadlineContext) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ask()
	return c.deadline, c.has
}

// ask learns the deadline from the host, once per request.
func (c *deadlineContext) ask() {
	if !c.asked {
		c.asked = true
		c.deadline, c.has = hostDeadlineTime()
	}
}
func (c *deadlineContext) Value(any) any { return nil }

func (c *deadlineContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.ask()
		c.done = make(chan struct{})
		switch {
		case c.err != nil:
			close(c.done)
		case c.has:
			c.timer = time.AfterFunc(time.Until(c.deadline), c.expire)
		}
	}
	return c.done
}

func (c *deadlineContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ask()
	if c.err == nil && c.has && !time.Now().Before(c.deadline) {
		c.expireLocked()
	}
	return c.err
}

func (c *deadlineContext) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
}

func (c *deadlineContext) expireLocked() {
	if c.err == nil {
		c.err = context.DeadlineExceeded
		if c.done != nil {
			close(c.done)
		}
	}
}

// reset makes c the context of a new request: the timer of the last one
// stops, and the deadline is asked again.
func (c *deadlineContext) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.asked, c.deadline, c.has, c.done, c.timer, c.err = false, time.Time{}, false, nil, nil, nil
}
