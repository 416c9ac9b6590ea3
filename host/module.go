package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
)

// A module is untrusted input until it has passed, in this order: the
// size bounds below (a few bytes can claim a billion entries, which a
// decoder would allocate), wazero's validation of the module exactly as
// written, and only then the instrumenter's rewrite. Validating the
// rewrite instead would let an invalid module become valid — its code
// could then reach the globals the rewrite adds.

// Bounds on what a module may declare, checked before any decoder
// allocates for it; each is far above what compilers emit.
const (
	maxModuleSize     = 1 << 30    // bytes
	maxFunctionLocals = 50_000     // locals of one function
	maxTableSize      = 10_000_000 // initial entries of one table
)

// Wasm section ids whose payload is a vector: its entry count can be no
// more than its payload's bytes.
var vectorSections = map[byte]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 9: true, 10: true, 11: true}

// prepare checks wasm and returns it instrumented, ready to compile. A
// module that a process sharing cacheDir prepared before is taken from
// there, neither validated nor instrumented again (see
// preparedcache.go); the bounds on sizes and memory are checked anyway.
func prepare(ctx context.Context, wasm []byte, maxMemory uint64, cacheDir string) ([]byte, error) {
	if len(wasm) > maxModuleSize {
		return nil, fmt.Errorf("module is %s, over the limit of %s", mebibytes(uint64(len(wasm))), mebibytes(maxModuleSize))
	}
	secs, err := parseSections(wasm)
	if err == nil {
		err = checkSizes(secs)
	}
	if err == nil {
		err = checkFunctionTypes(secs)
	}
	cache, id := preparedCache(cacheDir), preparedID(wasm)
	var prepared []byte
	known := false
	if err == nil {
		if prepared, known = cache.Get(preparedKind, id); !known {
			err = validate(ctx, wasm)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("not a valid Wasm module: %w", err)
	}
	if need := initialMemory(secs); need > maxMemory {
		return nil, fmt.Errorf("module needs %s of memory to start, over the limit of %s", mebibytes(need), mebibytes(maxMemory))
	}
	if known {
		return prepared, nil
	}
	out, err := instrument(secs, wasm[:8])
	if err != nil {
		return nil, fmt.Errorf("module cannot be bounded in time: %w", err)
	}
	_ = cache.Put(preparedKind, id, out) // only a saving: the next load prepares again
	return out, nil
}

// checkSizes refuses declared sizes no real module has.
func checkSizes(secs []section) error {
	const typeSection, elementSection = 1, 9
	for _, s := range secs {
		if !vectorSections[s.id] {
			continue
		}
		r := &wasmReader{b: s.payload}
		if n := r.u32(); r.err != nil || int(n) > len(s.payload) {
			return fmt.Errorf("section %d claims %d entries in %d bytes", s.id, n, len(s.payload))
		}
		var err error
		switch s.id {
		case secCode:
			err = checkLocals(r)
		case secTable:
			err = checkTables(s.payload)
		case typeSection:
			err = checkFunctionTypeSizes(r)
		case elementSection:
			err = checkElementSizes(r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkLocals bounds the locals of each function in the code section r
// is reading, past its count.
func checkLocals(r *wasmReader) error {
	for !r.done() {
		fn := &wasmReader{b: r.bytes(int(r.u32()))}
		locals := uint64(0)
		for groups := fn.u32(); groups > 0 && fn.err == nil; groups-- {
			locals += uint64(fn.u32())
			fn.byte()
		}
		if locals > maxFunctionLocals {
			return fmt.Errorf("a function declares %d locals, over the limit of %d", locals, maxFunctionLocals)
		}
	}
	return nil
}

// claim reads a vector's entry count, which may be no more than the bytes
// left to read: every entry takes at least one. A count cut off by the end
// of its section is refused too: wazero's decoder would read on into the
// next section and take whatever number it found there.
func claim(r *wasmReader) (int, error) {
	n := r.u32()
	if r.err != nil {
		return 0, errors.New("a vector's count runs past the end of its section")
	}
	if left := len(r.b) - r.at; int64(n) > int64(left) {
		return 0, fmt.Errorf("a vector claims %d entries in %d bytes", n, left)
	}
	return int(n), nil
}

// checkFunctionTypeSizes bounds the parameters and results of each
// function type in the type section r is reading, past its count.
func checkFunctionTypeSizes(r *wasmReader) error {
	for !r.done() {
		if r.byte() != 0x60 {
			return nil // not a function type: validation's business
		}
		for range 2 { // parameters, then results, a byte each
			n, err := claim(r)
			if err != nil {
				return fmt.Errorf("a function type: %w", err)
			}
			r.bytes(n)
		}
	}
	return nil
}

// checkElementSizes bounds the entries of each segment in the element
// section r is reading, past its count.
func checkElementSizes(r *wasmReader) error {
	for !r.done() {
		flags := r.u32()
		if flags > 7 {
			return nil // validation's business
		}
		if flags&3 == 2 {
			r.u32() // table index
		}
		if flags&1 == 0 {
			skipConstExpr(r) // active: the offset
		}
		if flags&3 != 0 {
			r.byte() // element kind or reference type
		}
		n, err := claim(r)
		if err != nil {
			return fmt.Errorf("an element segment: %w", err)
		}
		for ; n > 0 && r.err == nil; n-- {
			if flags&4 == 0 {
				r.u32() // a function index
			} else {
				skipConstExpr(r)
			}
		}
	}
	return nil
}

// skipConstExpr reads past a constant expression; one it does not know
// stops r, leaving the rest to validation.
func skipConstExpr(r *wasmReader) {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41, 0x42: // i32.const, i64.const
			r.sleb()
		case 0x43: // f32.const
			r.bytes(4)
		case 0x44: // f64.const
			r.bytes(8)
		case 0x23, 0xd2: // global.get, ref.func
			r.u32()
		case 0xd0: // ref.null
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		default:
			r.err = errTruncated
		}
	}
}

// checkTables bounds the initial size of each table the module defines.
func checkTables(payload []byte) error {
	r := &wasmReader{b: payload}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.byte() // reference type
		if size := r.limits(); size > maxTableSize {
			return fmt.Errorf("a table starts with %d entries, over the limit of %d", size, maxTableSize)
		}
	}
	return nil // what could not be read is validation's business
}

// checkFunctionTypes refuses a function whose type is not in the type
// section. wazero checks each function's type only when it reaches that
// function, after validating the bodies before it: a call from an
// earlier body to such a function panics its validator (index out of
// range).
func checkFunctionTypes(secs []section) error {
	const typeSection, functionSection = 1, 3
	types := uint32(0)
	for _, s := range secs {
		switch s.id {
		case typeSection:
			types = (&wasmReader{b: s.payload}).u32()
		case functionSection:
			r := &wasmReader{b: s.payload}
			for i, n := uint32(0), r.u32(); i < n && r.err == nil; i++ {
				if t := r.u32(); r.err == nil && t >= types {
					return fmt.Errorf("function %d has type %d, but the module declares %d types", i, t, types)
				}
			}
		}
	}
	return nil // what could not be read is validation's business
}

// validate runs wazero's decoder and validator on wasm as written. The
// interpreter compiles least of the engines; its result is thrown away.
func validate(ctx context.Context, wasm []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the validator failed: %v", p)
		}
	}()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	m, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return firstLine(err)
	}
	return m.Close(ctx)
}
