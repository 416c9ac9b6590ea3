package host

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// Each of these runs forever (or for 2^60 calls) past exactly one kind of
// check the instrumenter places; leaving that check out lets it run on.
var runawayShapes = map[string]string{
	// a and b call each other: neither calls itself.
	"mutual recursion": `
  (func $run (call $a (i32.const 60)))
  (func $a (param $n i32)
    (if (local.get $n) (then
      (call $b (i32.sub (local.get $n) (i32.const 1)))
      (call $b (i32.sub (local.get $n) (i32.const 1))))))
  (func $b (param $n i32)
    (if (local.get $n) (then
      (call $a (i32.sub (local.get $n) (i32.const 1)))
      (call $a (i32.sub (local.get $n) (i32.const 1))))))`,
	// f calls itself only through the table.
	"recursion through call_indirect": `
  (type $t (func (param i32)))
  (table 1 funcref)
  (elem (i32.const 0) $f)
  (func $run (call $f (i32.const 60)))
  (func $f (param $n i32)
    (if (local.get $n) (then
      (call_indirect (type $t) (i32.sub (local.get $n) (i32.const 1)) (i32.const 0))
      (call_indirect (type $t) (i32.sub (local.get $n) (i32.const 1)) (i32.const 0)))))`,
	// a's direct calls are acyclic: the cycle closes in b's indirect call.
	"mutual recursion, one way indirect": `
  (type $t (func (param i32)))
  (table 1 funcref)
  (elem (i32.const 0) $a)
  (func $run (call $a (i32.const 60)))
  (func $a (param $n i32)
    (if (local.get $n) (then
      (call $b (i32.sub (local.get $n) (i32.const 1)))
      (call $b (i32.sub (local.get $n) (i32.const 1))))))
  (func $b (param $n i32)
    (if (local.get $n) (then
      (call_indirect (type $t) (i32.sub (local.get $n) (i32.const 1)) (i32.const 0))
      (call_indirect (type $t) (i32.sub (local.get $n) (i32.const 1)) (i32.const 0)))))`,
	// 61 functions, each calling the next twice: no cycle, no loop.
	"acyclic fan-out": fanChain(61),
	// A Go-style dispatch loop whose second segment jumps back to the first.
	"dispatch loop jumping back": goStyleLoop(`(local.set $pc (i32.const 0)) (br $l)`),
	// ... through the br_table's default.
	"dispatch loop jumping back through the default": goStyleLoop(`(local.set $pc (i32.const 7)) (br $l)`),
	// ... with a conditional branch.
	"dispatch loop branching back conditionally": goStyleLoop(`(local.set $pc (i32.const 0)) (br_if $l (i32.const 1))`),
	// ... with a computed index.
	"dispatch loop jumping to a computed segment": goStyleLoop(`(local.set $pc (i32.sub (local.get $pc) (i32.const 1))) (br $l)`),
}

// fanChain is f0 ... f(n-1), each f(k) calling f(k-1) twice, run from f(n-1).
func fanChain(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  (func $run (call $f%d))\n  (func $f0)\n", n-1)
	for k := 1; k < n; k++ {
		fmt.Fprintf(&b, "  (func $f%d (call $f%d) (call $f%d))\n", k, k-1, k-1)
	}
	return b.String()
}

// goStyleLoop is $run as Go compiles a function: a loop around one block
// per segment and a br_table on $pc choosing the segment. Segment 0 jumps
// forward to segment 1, which runs back, and segment 2 returns.
func goStyleLoop(back string) string {
	return `
  (func $run (local $pc i32)
    (loop $l
      (block $s2
        (block $s1
          (block $s0
            (br_table $s0 $s1 $s2 $s0 (local.get $pc)))
          ;; segment 0
          (local.set $pc (i32.const 1))
          (br $l))
        ;; segment 1
        ` + back + `)
      ;; segment 2
      (return)))`
}

func TestEveryRunawayShapeGets504(t *testing.T) {
	for name, shape := range runawayShapes {
		t.Run(name, func(t *testing.T) {
			var logs logbuf.Buffer
			h := newGuest(t, guestWAT(shape+`
  (func (export "handle_request") (result i64)
    (if (i32.eq (call $get_method (i32.const 1024) (i32.const 16)) (i32.const 4))
      (then (call $run)))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 2))
    (i64.const 0))`, "0 ok"), Config{Timeout: runawayTimeout, MaxInstances: 1, Logger: logs.Logger()})
			var rec *httptest.ResponseRecorder
			within(t, runawayLimit, name, func() { rec = serve(h, httptest.NewRequest("POST", "/", nil)) })
			assert.Equal(t, http.StatusGatewayTimeout, rec.Code)
			assert.Contains(t, logs.String(), "guest exceeded its deadline")
			rec = serve(h, httptest.NewRequest("GET", "/", nil))
			assert.Equal(t, "ok", rec.Body.String(), "the next request is served")
		})
	}
}

// scanModule returns what the instrumenter finds in each function body of
// the module src, and which functions it checks at entry.
func scanModule(t *testing.T, src string) ([]fnBody, []bool) {
	t.Helper()
	secs, err := parseSections(testwasm.WAT(t, src))
	require.NoError(t, err)
	imports := [4]int{}
	if payload, ok := sectionPayload(secs, secImport); ok {
		imports, err = countImports(payload)
		require.NoError(t, err)
	}
	payload, ok := sectionPayload(secs, secCode)
	require.True(t, ok)
	r := &wasmReader{b: payload}
	var fns []fnBody
	for n := r.u32(); n > 0; n-- {
		fn := &wasmReader{b: r.bytes(int(r.u32()))}
		for groups := fn.u32(); groups > 0; groups-- {
			fn.u32()
			fn.byte()
		}
		f, err := scanFunction(fn.b[fn.at:])
		require.NoError(t, err)
		fns = append(fns, f)
	}
	require.NoError(t, r.err)
	return fns, entryChecks(fns, uint32(imports[externFunc]))
}

func TestOnlyFunctionsThatCanRunOnAreCheckedAtEntry(t *testing.T) {
	_, entry := scanModule(t, `(module
  (import "env" "host" (func $host))
  (type $t (func))
  (table 1 funcref)
  (func $leaf)                               ;; 0
  (func $caller (call $leaf) (call $host))   ;; 1: acyclic
  (func $self (call $self))                  ;; 2
  (func $a (call $b))                        ;; 3
  (func $b (call $a))                        ;; 4
  (func $indirect (call_indirect (type $t) (i32.const 0))) ;; 5
  (func $callsIndirect (call $indirect))     ;; 6: acyclic, its callee checks
`+fanChain(12)+`)`)
	assert.Equal(t, []bool{false, false, true, true, true, true, false}, entry[:7])
	// The chain: run, f0 (a leaf), then f1 ... f11, each doubling the
	// unchecked work until one is checked and the doubling starts over.
	chain := entry[9:]
	assert.Contains(t, chain, true, "a fan-out is checked somewhere")
	assert.Contains(t, chain, false, "but not at every function")
}

func TestDispatchLoopsAreCheckedOnlyWhereTheyGoBack(t *testing.T) {
	cases := map[string]struct {
		back   string
		checks int
	}{
		"forward only":     {`(local.set $pc (i32.const 2)) (br $l)`, 0},
		"back":             {`(local.set $pc (i32.const 0)) (br $l)`, 1},
		"back by default":  {`(local.set $pc (i32.const 7)) (br $l)`, 1},
		"to itself":        {`(local.set $pc (i32.const 1)) (br $l)`, 1},
		"conditional":      {`(local.set $pc (i32.const 2)) (br_if $l (i32.const 1))`, 1},
		"another local":    {`(local.set $other (i32.const 2)) (br $l)`, 1},
		"computed segment": {`(local.set $pc (local.get $other)) (br $l)`, 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			src := strings.Replace(goStyleLoop(c.back), "(local $pc i32)", "(local $pc i32) (local $other i32)", 1)
			fns, _ := scanModule(t, "(module "+src+")")
			assert.Len(t, fns[0].checks, c.checks)
		})
	}
	t.Run("a br_table that can reach the loop is an ordinary loop", func(t *testing.T) {
		src := strings.Replace(goStyleLoop(`(local.set $pc (i32.const 2)) (br $l)`), "(br_table $s0 $s1 $s2 $s0", "(br_table $s0 $s1 $s2 $l", 1)
		fns, _ := scanModule(t, "(module "+src+")")
		require.Len(t, fns[0].checks, 1)
		assert.Equal(t, 2, fns[0].checks[0], "the check is at the loop head")
	})
}
