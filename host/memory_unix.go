//go:build unix

package host

import (
	"context"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// Linear memory lives outside the Go heap, in a mapping of its own: the
// maximum is reserved as address space, pages are committed as the guest
// grows, and the whole mapping goes back to the system when the instance
// is closed. Memory in Go slices would be returned only when the garbage
// collector and the scavenger got round to it, so a worker that served
// big requests would stay big.

// memoryContext carries the allocator into every instantiation.
var memoryContext = experimental.WithMemoryAllocator(context.Background(),
	experimental.MemoryAllocatorFunc(allocateMemory))

// allocateMemory returns a linear memory of at most max bytes.
func allocateMemory(capacity, max uint64) experimental.LinearMemory {
	if max == 0 {
		return &mappedMemory{}
	}
	b, err := unix.Mmap(-1, 0, int(max), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return &mappedMemory{} // every growth fails: the guest traps
	}
	return &mappedMemory{buf: b}
}

// mappedMemory is a reservation of which the first committed bytes are
// usable.
type mappedMemory struct {
	buf       []byte
	committed int
}

// Reallocate commits memory up to size bytes, or returns nil when size
// is over the reservation or the system refuses.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	if m.buf == nil {
		return []byte{} // a memory of no pages
	}
	n := int(size)
	if n > m.committed {
		if err := unix.Mprotect(m.buf[m.committed:n], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = n
	}
	return m.buf[:n:n]
}

// Free returns the mapping to the system.
func (m *mappedMemory) Free() {
	if m.buf != nil {
		_ = unix.Munmap(m.buf)
		m.buf, m.committed = nil, 0
	}
}
