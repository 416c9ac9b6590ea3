package host

import (
	"context"
	"net/http"
	"time"
)

// scope is what the calls of one request into the wasmcluster host module
// share beyond their results: the context host functions and outbound
// requests run in, and the counts and handles the limits apply to. It
// lives in the exchange and ends with the request, which cancels the
// context and frees every handle.
type scope struct {
	ctx    *requestContext // made at the first use in a request
	cancel context.CancelFunc
	calls  int // host function calls made
	out    outboundState
}

// requestContext is the context of one request's capabilities: the
// request's own, bounded by its deadline, and carrying the request.
type requestContext struct {
	context.Context
	r *http.Request
}

type requestKey struct{}

func (c *requestContext) Value(key any) any {
	if key == (requestKey{}) {
		return c.r
	}
	return c.Context.Value(key)
}

// RequestFromContext returns the request a guest is serving, from the
// context a host function gets; nil for any other context.
func RequestFromContext(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

// context returns the request's capability context, making it at the
// first call.
func (ex *exchange) context() context.Context {
	s := &ex.scope
	if s.ctx == nil {
		deadline := time.Unix(0, ex.inst.deadline.Load())
		ctx, cancel := context.WithDeadline(ex.r.Context(), deadline)
		s.ctx, s.cancel = &requestContext{Context: ctx, r: ex.r}, cancel
	}
	return s.ctx
}

// end ends the request's scope: its context is cancelled and its
// outbound requests closed.
func (s *scope) end() {
	s.out.closeAll()
	if s.cancel != nil {
		s.cancel()
	}
	*s = scope{}
}
