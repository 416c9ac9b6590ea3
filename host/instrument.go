package host

import (
	"errors"
	"fmt"
)

// The instrumenter's code pass: where in each function body the budget
// check goes. host/RATIONALE.md ("Where the interrupt checks go") argues
// why every runaway still meets a check; in short:
//
//   - A loop that can run forever iterates by branching back to its head,
//     so a check at every loop head sees every iteration. The one kind of
//     loop checked elsewhere is a dispatch loop (below).
//   - A call graph can run forever without a loop only through recursion
//     or by fanning out; instrument_calls.go picks the functions whose
//     entry must be checked for that.
//
// Go compiles every function that calls into a dispatch loop: the loop's
// body opens one block per resumption point and starts with a br_table on
// a local, the resumption index; every jump inside the function sets that
// local to a constant and branches to the loop. A check at its head would
// run at every jump, forward ones included — most of a Go guest's checks.
// Instead, a dispatch loop is checked before each branch back to it,
// except a branch that sets the local to a constant landing further down:
// a run of those only moves forward through the function.

// fnBody is one function of the code section, as the scan found it.
type fnBody struct {
	locals, code []byte // the locals declaration, and the instructions after it
	checks       []int  // offsets in code where a check goes, ascending
	callees      []uint32
	calls        bool // any call, direct or not
	indirect     bool // call_indirect, call_ref or their return_ forms
}

// instrumentCode inserts check at the places scanFunction finds in each
// function body, and at the entry of the functions entryChecks picks.
// imported is the count of imported functions, which come first in the
// function index space.
func instrumentCode(payload, check []byte, imported uint32) ([]byte, error) {
	r := &wasmReader{b: payload}
	n := r.u32()
	fns := make([]fnBody, 0, min(n, uint32(len(payload))))
	for ; n > 0 && r.err == nil; n-- {
		fn := &wasmReader{b: r.bytes(int(r.u32()))}
		for groups := fn.u32(); groups > 0 && fn.err == nil; groups-- { // locals
			fn.u32()
			fn.byte()
		}
		if r.err != nil || fn.err != nil {
			break
		}
		f, err := scanFunction(fn.b[fn.at:])
		if err != nil {
			return nil, err
		}
		f.locals = fn.b[:fn.at]
		fns = append(fns, f)
	}
	if r.err == nil && !r.done() {
		r.err = errors.New("bytes after the last function body")
	}
	if r.err != nil {
		return nil, r.err
	}
	entry := entryChecks(fns, imported)
	out := uleb(uint32(len(fns)))
	var body []byte
	for i, f := range fns {
		body = append(body[:0], f.locals...)
		if entry[i] {
			body = append(body, check...)
		}
		at := 0
		for _, c := range f.checks {
			body = append(append(body, f.code[at:c]...), check...)
			at = c
		}
		body = append(body, f.code[at:]...)
		out = append(append(out, uleb(uint32(len(body)))...), body...)
	}
	return out, nil
}

// frame is one open block, loop, if or try of the function being scanned.
type frame struct {
	loop     bool
	dispatch *dispatchLoop // a loop: its dispatch, if it is one; a block: the dispatch it is a segment block of
}

// dispatchLoop is a loop whose body starts with blocks nested blocks
// around `local.get index; br_table targets`, every target one of those
// blocks: each target lands at the start of a segment, the code after
// that block's end. Segments are numbered in code order from 0.
type dispatchLoop struct {
	index   uint32
	targets []uint32 // the br_table's labels, its default last
	blocks  int
	ended   int // segment blocks ended so far: the scan is in segment ended-1
}

// landing is the segment a branch to the loop lands in once index is k.
func (d *dispatchLoop) landing(k int64) uint32 {
	if k < 0 || k >= int64(len(d.targets)-1) {
		return d.targets[len(d.targets)-1]
	}
	return d.targets[k]
}

// scanFunction finds where the checks of one function body go: after the
// block type of every loop but dispatch loops, and before every branch to
// a dispatch loop that may go back.
func scanFunction(code []byte) (fnBody, error) {
	f := fnBody{code: code}
	r := &wasmReader{b: code}
	stack := []frame{{}} // the function's own block
	var segmentBlocks int
	var segmentOf *dispatchLoop
	// The two instructions before this one, for `i32.const k; local.set x; br`.
	var prev, prev2 instr
	for !r.done() {
		start := r.at
		op := r.byte()
		if err := skipImmediates(r, op); err != nil {
			return f, err
		}
		imm := &wasmReader{b: code[start+1 : r.at]}
		switch op {
		case 0x02, 0x04, 0x06: // block, if, try
			fr := frame{}
			if op == 0x02 && segmentBlocks > 0 {
				fr.dispatch = segmentOf
				segmentBlocks--
			}
			stack = append(stack, fr)
		case 0x03: // loop
			d := findDispatch(code[r.at:])
			stack = append(stack, frame{loop: true, dispatch: d})
			if d == nil {
				f.checks = append(f.checks, r.at)
			} else {
				segmentOf, segmentBlocks = d, d.blocks
			}
		case 0x0b, 0x18: // end, delegate
			if len(stack) == 0 {
				return f, errors.New("unbalanced function body")
			}
			if d := stack[len(stack)-1].dispatch; d != nil && !stack[len(stack)-1].loop {
				d.ended++
			}
			stack = stack[:len(stack)-1]
		case 0x0c, 0x0d, 0xd4, 0xd6: // br, br_if, br_on_null, br_on_non_null
			target, err := label(stack, imm.u32())
			if err != nil {
				return f, err
			}
			if d := target.dispatch; target.loop && d != nil {
				forward := op == 0x0c && prev2.op == 0x41 && prev.op == 0x21 && uint32(prev.imm) == d.index &&
					d.ended > 0 && int(d.landing(prev2.imm)) >= d.ended
				if !forward {
					f.checks = append(f.checks, start)
				}
			}
		case 0x0e: // br_table
			for n := int64(imm.u32()) + 1; n > 0; n-- {
				target, err := label(stack, imm.u32())
				if err != nil {
					return f, err
				}
				if target.loop && target.dispatch != nil {
					f.checks = append(f.checks, start)
					break
				}
			}
		case 0x10, 0x12: // call, return_call
			f.calls = true
			f.callees = append(f.callees, imm.u32())
		case 0x11, 0x13, 0x14, 0x15: // call_indirect, return_call_indirect, call_ref, return_call_ref
			f.calls, f.indirect = true, true
		}
		prev2, prev = prev, instr{op: op}
		switch op {
		case 0x41:
			prev.imm = imm.s64()
		case 0x21:
			prev.imm = int64(imm.u32())
		}
	}
	if r.err != nil {
		return f, r.err
	}
	if len(stack) != 0 {
		return f, errors.New("unbalanced function body")
	}
	return f, nil
}

// instr is an instruction seen by scanFunction: its opcode and, for
// i32.const and local.set, its immediate.
type instr struct {
	op  byte
	imm int64
}

// label returns the frame a branch of depth depth targets.
func label(stack []frame, depth uint32) (frame, error) {
	if int64(depth) >= int64(len(stack)) {
		return frame{}, fmt.Errorf("branch depth %d out of range", depth)
	}
	return stack[len(stack)-1-int(depth)], nil
}

// findDispatch reports whether the loop whose body code starts is a
// dispatch loop: blocks (of no type) nested around `local.get x; br_table`,
// every target one of those blocks, then the end of the innermost.
func findDispatch(code []byte) *dispatchLoop {
	r := &wasmReader{b: code}
	d := &dispatchLoop{}
	for r.at+1 < len(r.b) && r.b[r.at] == 0x02 && r.b[r.at+1] == 0x40 {
		r.at += 2
		d.blocks++
	}
	if d.blocks == 0 || r.byte() != 0x20 {
		return nil
	}
	d.index = r.u32()
	if r.byte() != 0x0e {
		return nil
	}
	for n := int64(r.u32()) + 1; n > 0 && r.err == nil; n-- {
		t := r.u32()
		if int(t) >= d.blocks {
			return nil // to the loop itself, or out of it
		}
		d.targets = append(d.targets, t)
	}
	if r.byte() != 0x0b || r.err != nil {
		return nil
	}
	return d
}

// skipImmediates reads past the immediates of the instruction op.
func skipImmediates(r *wasmReader, op byte) error {
	switch {
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x19, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1, op == 0xd3:
		// No immediates.
	case op >= 0x02 && op <= 0x04, op == 0x06: // block, loop, if, try
		r.blockType()
	case op >= 0x07 && op <= 0x09, op >= 0x0c && op <= 0x0d, op == 0x10, op == 0x12, op == 0x14, op == 0x15,
		op == 0x18, op >= 0x20 && op <= 0x26, op == 0x3f, op == 0x40, op == 0xd2, op == 0xd4, op == 0xd6:
		r.u32()
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.byte()
		}
	case op >= 0x28 && op <= 0x3e:
		r.memarg()
	case op == 0x41, op == 0x42: // i32.const, i64.const
		r.sleb()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.sleb()
	case op == 0xfc:
		return skipFC(r)
	case op == 0xfd:
		return skipSIMD(r)
	case op == 0xfe:
		if sub := r.u32(); sub == 3 {
			r.byte() // atomic.fence
		} else {
			r.memarg()
		}
	default:
		return fmt.Errorf("%w 0x%02x", errUnsupported, op)
	}
	return nil
}

func skipFC(r *wasmReader) error {
	switch sub := r.u32(); {
	case sub <= 7: // saturating truncations
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17:
		r.u32()
	default:
		return fmt.Errorf("%w 0xfc %d", errUnsupported, sub)
	}
	return nil
}

func skipSIMD(r *wasmReader) error {
	switch sub := r.u32(); {
	case sub <= 11, sub == 92, sub == 93: // loads and stores
		r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.memarg()
		r.byte()
	case sub <= 275:
	default:
		return fmt.Errorf("%w 0xfd %d", errUnsupported, sub)
	}
	return nil
}
