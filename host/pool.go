package host

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// instance is one live guest. It serves one request at a time; between
// requests it waits in the pool with its memory (and so the guest's
// globals) intact.
//
// An instance is also the context.Context of its own calls, through its
// interrupter: host functions find the instance with Value, and the
// watchdog interrupts a running guest with interrupt. An interrupted
// instance is never reused.
type instance struct {
	interrupter
	h              *Handler
	mod            api.Module
	mem            api.Memory
	handleRequest  api.Function
	handleResponse api.Function // nil when the guest does not export it
	stack          [2]uint64

	// baseFeatures are the features the guest enabled outside a request;
	// every request starts with them.
	baseFeatures uint32
	ex           exchange // the request in progress, reset for each

	stdout, stderr guestOutput
	logs           logBudget         // reset for each request
	strings        map[string]string // interned strings read from the guest

	// Set while a request runs, read by the watchdog. watching is held
	// by the watchdog from reading active to interrupting, and by end: so
	// the watchdog never acts, on the instance's next request, on what it
	// saw of the one before (whose context ends as it returns).
	active   atomic.Pointer[http.Request]
	deadline atomic.Int64 // unix nanoseconds
	watching sync.Mutex
}

type instanceKey struct{}

// Value makes the instance findable from the context of its calls.
func (i *instance) Value(key any) any {
	if key == (instanceKey{}) {
		return i
	}
	return i.interrupter.Value(key)
}

// call runs fn with the instance as context; results land in i.stack.
func (i *instance) call(fn api.Function) error {
	return fn.CallWithStack(i, i.stack[:])
}

// begin marks the instance busy until end, for the watchdog: r (which may
// be nil outside a request) is watched for cancellation, and the guest is
// interrupted after timeout.
func (i *instance) begin(r *http.Request, timeout time.Duration) {
	i.logs = logBudget{}
	i.deadline.Store(time.Now().Add(timeout).UnixNano())
	if r == nil {
		r = idleRequest
	}
	i.active.Store(r)
}

func (i *instance) end() {
	i.watching.Lock()
	i.active.Store(nil)
	i.watching.Unlock()
	i.stdout.flush()
	i.stderr.flush()
}

// idleRequest stands for "no request" while an instance initializes.
var idleRequest = (&http.Request{}).WithContext(context.Background())

// errPoolClosed is returned to requests that arrive after Close, and
// interrupts those Close finds running.
var errPoolClosed = errors.New("handler is closed")

// pool keeps live instances for reuse. At most max exist at once; a request
// beyond that waits for one to come back, bounded by its context and
// Config.QueueTimeout.
type pool struct {
	h     *Handler
	slots *slots         // one per instance in use
	idle  chan *instance // instances ready for reuse

	mu   sync.Mutex
	live map[*instance]struct{}
	stop chan struct{}
}

func newPool(h *Handler, max int) *pool {
	p := &pool{
		h:     h,
		slots: newSlots(max),
		idle:  make(chan *instance, max),
		live:  make(map[*instance]struct{}),
		stop:  make(chan struct{}),
	}
	go p.watch(watchInterval(h.cfg.Timeout))
	return p
}

// watchInterval is how often the watchdog looks: often enough that a
// runaway guest overruns its deadline by a small fraction of it.
func watchInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/20, 2*time.Millisecond), 50*time.Millisecond)
}

// get returns an instance for one request, starting one if none is idle.
// It waits for one at most Config.QueueTimeout.
func (p *pool) get(ctx context.Context) (*instance, error) {
	if p.slots.full() {
		p.h.metrics.waits.Inc() // every instance is in use: this request waits
	}
	if err := p.slots.take(ctx, p.h.cfg.QueueTimeout); err != nil {
		return nil, err
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	inst := p.h.newInstance()
	p.mu.Lock() // close sets slots.closed under it too
	closed := p.slots.closed.Load()
	if !closed {
		p.live[inst] = struct{}{}
		p.h.metrics.instances.Inc()
	}
	p.mu.Unlock()
	if closed {
		p.slots.give()
		return nil, errPoolClosed
	}
	if err := inst.start(); err != nil {
		p.forget(inst)
		p.slots.give()
		return nil, err
	}
	return inst, nil
}

// put returns a healthy instance for reuse.
func (p *pool) put(inst *instance) {
	p.idle <- inst // never blocks: there are at most cap(idle) instances
	p.slots.give()
}

// forget takes an instance out of the watchdog's sight.
func (p *pool) forget(inst *instance) {
	p.mu.Lock()
	if _, ok := p.live[inst]; ok {
		delete(p.live, inst)
		p.h.metrics.instances.Dec()
	}
	p.mu.Unlock()
}

// discard drops an instance whose guest trapped or was interrupted.
func (p *pool) discard(inst *instance) {
	p.forget(inst)
	inst.interrupt(context.Canceled)
	_ = inst.mod.Close(context.Background())
	p.slots.give()
	returnMemorySoon()
}

// close refuses new requests and interrupts the running ones. The
// channel it returns is closed once none is running.
func (p *pool) close() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slots.closed.Load() {
		return p.slots.close() // closed before: the same channel
	}
	running := p.slots.close()
	close(p.stop)
	for inst := range p.live {
		inst.interrupt(errPoolClosed)
	}
	return running
}

// watchOnce looks at every live instance once.
func (p *pool) watchOnce(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for inst := range p.live {
		inst.watch(now)
	}
}

// watch interrupts the guest if its request overran its deadline at now
// or its client has gone.
func (i *instance) watch(now time.Time) {
	i.watching.Lock()
	defer i.watching.Unlock()
	r := i.active.Load()
	switch {
	case r == nil:
	case now.UnixNano() > i.deadline.Load():
		i.interrupt(context.DeadlineExceeded)
	case r.Context().Err() != nil:
		i.interrupt(context.Canceled)
	}
}

// watch interrupts guests that overrun their deadline or whose client has
// gone, until the pool is closed.
func (p *pool) watch(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.watchOnce(now)
		}
	}
}
