package dispatcher

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
)

// spoolMemory is how much of a spooled body stays in memory; the rest goes
// to a temporary file.
const spoolMemory = 64 << 10

// spool holds a body in memory up to spoolMemory, and beyond that in a
// temporary file unlinked as soon as it is made: nothing is left on disk
// whichever way the process ends. Bytes are read back in the order they
// were written.
type spool struct {
	mem    []byte
	file   *os.File
	size   int64 // bytes written
	off    int64 // bytes read
	budget *spoolBudget
	held   int64 // bytes charged to budget
}

// spoolBudget bounds the bytes a worker holds in spool files at once.
type spoolBudget struct {
	limit int64
	used  atomic.Int64
}

// take charges n bytes, or reports false if they do not fit.
func (b *spoolBudget) take(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

// errSpoolFull is returned by spool.Write when the worker's spool budget
// is spent.
var errSpoolFull = errors.New("the worker's spool budget is spent")

// Write appends p. Past spoolMemory it needs room in the budget, and a
// temporary file.
func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil && len(s.mem)+len(p) <= spoolMemory {
		s.mem = append(s.mem, p...)
		s.size += int64(len(p))
		return len(p), nil
	}
	if !s.budget.take(int64(len(p))) {
		return 0, errSpoolFull
	}
	s.held += int64(len(p))
	if s.file == nil {
		f, err := os.CreateTemp("", "wasmcluster-spool-")
		if err != nil {
			return 0, err
		}
		_ = os.Remove(f.Name())
		s.file = f
	}
	n, err := s.file.WriteAt(p, s.size-int64(len(s.mem)))
	s.size += int64(n)
	return n, err
}

// Read reads what was written and not read yet.
func (s *spool) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if s.off < int64(len(s.mem)) {
		n := copy(p, s.mem[s.off:])
		s.off += int64(n)
		return n, nil
	}
	n, err := s.file.ReadAt(p[:min(int64(len(p)), s.size-s.off)], s.off-int64(len(s.mem)))
	s.off += int64(n)
	if err == io.EOF && s.off < s.size {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// unread reports how many bytes wait to be read.
func (s *spool) unread() int64 { return s.size - s.off }

// reset empties the spool and removes its file.
func (s *spool) reset() {
	if s.file != nil {
		_ = s.file.Close()
		s.file = nil
	}
	s.budget.used.Add(-s.held)
	s.held = 0
	if cap(s.mem) > spoolMemory {
		s.mem = nil
	}
	s.mem, s.size, s.off = s.mem[:0], 0, 0
}
