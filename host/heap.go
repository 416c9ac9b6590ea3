package host

import (
	"runtime/debug"
	"sync"
	"time"
)

// MaxStack is the most call stack one running instance can take, in
// bytes: wazero grows a guest's stack by doubling and traps ("stack
// overflow") past its own ceiling, which it does not let its user set.
// The last stack is 80 MiB, and while it is copied the 40 MiB before it
// is live too. The stack is in the Go heap, not in linear memory.
const MaxStack = 128 << 20

// HeapBound is the most Go heap the guests of a Handler configured with c
// can make the process hold at once, beyond the process's own: for each
// instance, its call stack and the request and response bodies of its
// request. Linear memory is not counted: it lives outside the Go heap.
// It is -1 when a body has no limit.
func (c Config) HeapBound() int64 {
	c = c.withDefaults()
	if c.MaxRequestBody < 0 || c.MaxResponseBody < 0 {
		return -1
	}
	return int64(c.MaxInstances) * (MaxStack + c.MaxRequestBody + c.MaxResponseBody)
}

// A discarded instance leaves its call stack, up to MaxStack, to the
// garbage collector, which may not run again for minutes: after a burst
// of stack overflows nothing else allocates. returnMemory collects it
// and gives the pages back to the system, at most once a second so that
// a guest trapping on every request cannot keep the collector busy.
var returnMemory = sync.OnceValue(func() chan<- struct{} {
	wake := make(chan struct{}, 1)
	go func() {
		for range wake {
			debug.FreeOSMemory()
			time.Sleep(time.Second)
		}
	}()
	return wake
})

// returnMemorySoon asks for a returnMemory run, unless one is pending.
func returnMemorySoon() {
	select {
	case returnMemory() <- struct{}{}:
	default:
	}
}
