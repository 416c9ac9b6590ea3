package host

import (
	"context"
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
