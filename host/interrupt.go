package host

import (
	"bytes"
	"errors"
)

// A runaway guest must be stoppable, and must not stall the Go runtime:
// native code in a tight loop cannot be preempted, so a collection that
// stops the world would wait for it forever. wazero solves both by calling
// back into Go at the head of every loop when a context may end a call —
// but Go's own Wasm code runs a loop in every function, and a Go guest ran
// about four times slower for it.
//
// Instead, every module is instrumented before compiling (after wazero
// validated it as written, see module.go). Two mutable globals are added:
// a budget of checks, which every check spends, and an interrupt flag,
// exported as interruptGlobal. Checks go where a run could otherwise go on
// without end: loop heads (or, in Go's dispatch loops, the jumps back) and
// the entry of the functions through which recursion or a call fan-out
// passes (instrument.go, instrument_calls.go). wazero's own checks are at
// loop heads only, so a guest that recurses without looping would never
// stop. When the budget runs
// out, the guest checks the flag — trapping if it is set — and does
// memory.grow 0, a call into the host where the Go runtime can stop the
// world, then refills the budget. The watchdog interrupts a guest by
// setting the flag; it takes effect within one budget of checks, some
// microseconds. A module the instrumenter cannot read is refused: a guest
// that could not be stopped is not served.

// interruptGlobal names the flag global the instrumented module exports.
const interruptGlobal = "wasmcluster.interrupt"

// startExport names the export an instrumented module's start function
// gets in place of its start section: the host calls it once the
// watchdog can interrupt it.
const startExport = "wasmcluster.start"

// loopBudget is the checks (loop iterations, calls) between calls into
// the host.
const loopBudget = 1 << 16

// errUnsupported means the module uses an instruction the instrumenter does
// not know; such a module is refused.
var errUnsupported = errors.New("unsupported instruction")

// Wasm section ids.
const (
	secCustom = 0
	secImport = 2
	secTable  = 4
	secMemory = 5
	secGlobal = 6
	secExport = 7
	secStart  = 8
	secCode   = 10
)

// Kinds of imports and exports.
const (
	externFunc   = 0
	externTable  = 1
	externMemory = 2
	externGlobal = 3
)

// section is one section of a module.
type section struct {
	id      byte
	payload []byte
}

// parseSections splits a module into its sections.
func parseSections(wasm []byte) ([]section, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, errors.New("invalid magic number")
	}
	r := &wasmReader{b: wasm, at: 8}
	var secs []section
	for !r.done() {
		id := r.byte()
		size := r.u32()
		payload := r.bytes(int(size))
		if r.err != nil {
			return nil, r.err
		}
		secs = append(secs, section{id, payload})
	}
	return secs, nil
}

// initialMemory returns the bytes of linear memory the module defines at
// start (0 if it defines none, or the section cannot be read).
func initialMemory(secs []section) uint64 {
	payload, ok := sectionPayload(secs, secMemory)
	if !ok {
		return 0
	}
	r := &wasmReader{b: payload}
	if r.u32() == 0 {
		return 0
	}
	pages := r.limits()
	if r.err != nil {
		return 0
	}
	return uint64(pages) * 65536
}

// sectionPayload returns the payload of the module's section id, which a
// module has at most one of (custom sections aside).
func sectionPayload(secs []section, id byte) ([]byte, bool) {
	for _, s := range secs {
		if s.id == id {
			return s.payload, true
		}
	}
	return nil, false
}

// instrument returns the module with the budget and interrupt flag
// globals added, the flag exported, both checked where instrumentCode puts
// checks, and its start function, if any,
// exported as startExport rather than run by instantiation. A module
// without memory gets an empty one, of no pages and no growth, for the
// check's memory.grow. secs must be a module wazero validated: everything
// added comes after what the module's own code can name.
func instrument(secs []section, header []byte) ([]byte, error) {
	importedFuncs, importedGlobals, definedGlobals, hasMemory := 0, 0, 0, false
	for _, s := range secs {
		switch s.id {
		case secImport:
			imports, err := countImports(s.payload)
			if err != nil {
				return nil, err
			}
			importedFuncs, importedGlobals = imports[externFunc], imports[externGlobal]
			hasMemory = hasMemory || imports[externMemory] > 0
		case secGlobal:
			definedGlobals = int((&wasmReader{b: s.payload}).u32())
		case secMemory:
			hasMemory = true
		}
	}
	budget := uint32(importedGlobals + definedGlobals)
	flag := budget + 1
	check := loopCheck(budget, flag)

	// The new globals (mutable i32s) end the global section, and their
	// exports the export section; a section missing is made, in its place
	// in the section order.
	budgetGlobal := append(append([]byte{0x7f, 0x01, 0x41}, sleb(loopBudget)...), 0x0b) // mut i32 = loopBudget
	flagGlobal := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b}                                  // mut i32 = 0
	added := map[byte][][]byte{
		secGlobal: {budgetGlobal, flagGlobal},
		secExport: {exportEntry(interruptGlobal, externGlobal, flag)},
	}
	if start, ok := startFunction(secs); ok {
		added[secExport] = append(added[secExport], exportEntry(startExport, externFunc, start))
	}
	if !hasMemory {
		added[secMemory] = [][]byte{{0x01, 0x00, 0x00}} // limits: min 0, max 0
	}

	out := bytes.NewBuffer(append([]byte(nil), header...))
	write := func(id byte, payload []byte) {
		out.WriteByte(id)
		out.Write(uleb(uint32(len(payload))))
		out.Write(payload)
	}
	// writeAddedBefore writes the added sections the module lacks that go
	// before a section of id (all that are left for id 0xff).
	writeAddedBefore := func(id byte) {
		for _, a := range []byte{secMemory, secGlobal, secExport} {
			if entries, ok := added[a]; ok && (id == 0xff || sectionOrder(a) < sectionOrder(id)) {
				write(a, appendEntries(nil, entries...))
				delete(added, a)
			}
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			writeAddedBefore(s.id)
		}
		switch {
		case s.id == secGlobal || s.id == secExport:
			write(s.id, appendEntries(s.payload, added[s.id]...))
			delete(added, s.id)
		case s.id == secCode:
			code, err := instrumentCode(s.payload, check, uint32(importedFuncs))
			if err != nil {
				return nil, err
			}
			write(s.id, code)
		case s.id == secStart:
			// Exported instead, and called by the host.
		case s.id == secCustom && isDebugSection(s.payload):
			// DWARF names code offsets that moved: drop it.
		default:
			write(s.id, s.payload)
		}
	}
	writeAddedBefore(0xff)
	return out.Bytes(), nil
}

// exportEntry is one entry of the export section.
func exportEntry(name string, kind byte, index uint32) []byte {
	e := append(uleb(uint32(len(name))), name...)
	return append(append(e, kind), uleb(index)...)
}

// startFunction returns the index of the module's start function, if it
// has one.
func startFunction(secs []section) (uint32, bool) {
	payload, ok := sectionPayload(secs, secStart)
	if !ok {
		return 0, false
	}
	r := &wasmReader{b: payload}
	index := r.u32()
	return index, r.err == nil
}

// loopCheck is the code put at the head of every loop, given the indices
// of the budget and flag globals:
//
//	budget = budget - 1
//	if budget <= 0 {
//		if flag { unreachable }
//		memory.grow 0
//		budget = loopBudget
//	}
func loopCheck(budget, flag uint32) []byte {
	b, f := uleb(budget), uleb(flag)
	var c []byte
	op := func(bs ...[]byte) {
		for _, x := range bs {
			c = append(c, x...)
		}
	}
	op([]byte{0x23}, b, []byte{0x41, 0x01, 0x6b, 0x24}, b)            // budget - 1 → budget
	op([]byte{0x23}, b, []byte{0x41, 0x00, 0x4c, 0x04, 0x40})         // if budget <= 0
	op([]byte{0x23}, f, []byte{0x04, 0x40, 0x00, 0x0b})               //   if flag: unreachable
	op([]byte{0x41, 0x00, 0x40, 0x00, 0x1a})                          //   drop(memory.grow 0)
	op([]byte{0x41}, sleb(loopBudget), []byte{0x24}, b, []byte{0x0b}) //   budget = loopBudget; end
	return c
}

// sectionOrder is where a section goes: ids in the order the spec requires
// (data count, 12, comes before code).
func sectionOrder(id byte) int {
	switch id {
	case 12:
		return 95 // data count: after element (9), before code (10)
	case 13:
		return 55 // tag: after memory (5), before global (6)
	}
	return int(id) * 10
}

// appendEntries adds entries to a vector section payload (or makes one).
func appendEntries(payload []byte, entries ...[]byte) []byte {
	r := &wasmReader{b: payload}
	n := uint32(0)
	if len(payload) > 0 {
		n = r.u32()
	}
	out := append(uleb(n+uint32(len(entries))), payload[r.at:]...)
	for _, e := range entries {
		out = append(out, e...)
	}
	return out
}

func isDebugSection(payload []byte) bool {
	r := &wasmReader{b: payload}
	name := r.bytes(int(r.u32()))
	return r.err == nil && bytes.HasPrefix(name, []byte(".debug_"))
}

// countImports counts the functions, tables, memories and globals a module
// imports, by kind.
func countImports(payload []byte) (counts [4]int, err error) {
	r := &wasmReader{b: payload}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.bytes(int(r.u32())) // module
		r.bytes(int(r.u32())) // name
		kind := r.byte()
		switch kind {
		case externFunc: // type index
			r.u32()
		case externTable: // reftype, limits
			r.byte()
			r.limits()
		case externMemory: // limits
			r.limits()
		case externGlobal: // valtype, mutability
			r.byte()
			r.byte()
		default:
			return counts, errUnsupported
		}
		counts[kind]++
	}
	return counts, r.err
}

// wasmReader decodes a Wasm binary; the first error sticks and ends reading.
type wasmReader struct {
	b   []byte
	at  int
	err error
}

var errTruncated = errors.New("truncated Wasm binary")

func (r *wasmReader) done() bool { return r.err != nil || r.at >= len(r.b) }

func (r *wasmReader) byte() byte {
	if r.err != nil || r.at >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.at]
	r.at++
	return c
}

func (r *wasmReader) bytes(n int) []byte {
	if r.err != nil || n < 0 || r.at+n > len(r.b) {
		r.err = errTruncated
		return nil
	}
	b := r.b[r.at : r.at+n]
	r.at += n
	return b
}

// u32 reads an unsigned LEB128.
func (r *wasmReader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errTruncated
	return 0
}

// sleb reads past a signed LEB128 of up to 64 bits.
func (r *wasmReader) sleb() {
	for i := 0; i < 10; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.err = errTruncated
}

// s64 reads a signed LEB128 of up to 64 bits.
func (r *wasmReader) s64() int64 {
	var v int64
	for shift := 0; shift < 70; shift += 7 {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift < 57 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v
		}
	}
	r.err = errTruncated
	return 0
}

func (r *wasmReader) blockType() {
	c := r.byte()
	if c == 0x40 || c&0xc0 == 0x40 { // empty, or a one-byte value type
		return
	}
	r.at-- // a type index, as a signed LEB128
	r.sleb()
}

func (r *wasmReader) memarg() {
	if align := r.u32(); align&0x40 != 0 { // multi-memory: a memory index
		r.u32()
	}
	r.u32()
}

// limits reads a table's or memory's limits and returns the minimum.
func (r *wasmReader) limits() uint32 {
	flags := r.byte()
	min := r.u32()
	if flags&1 != 0 {
		r.u32()
	}
	return min
}

func sleb(v int32) []byte {
	var out []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(out, c)
		}
		out = append(out, c|0x80)
	}
}

func uleb(v uint32) []byte {
	var out []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, c)
		}
		out = append(out, c|0x80)
	}
}
