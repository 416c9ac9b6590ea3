package host

// Which functions get a check at their entry. A run that never branches
// back to a loop head can still go on forever by recursing, or take
// exponential time by fanning out (f calls g twice, g calls h twice, ...).
// Checking the entry of every function that calls stops both, but costs a
// check per call; these need one:
//
//   - every function on a cycle of direct calls (its strongly connected
//     component has more than one function, or it calls itself): every
//     recursion through direct calls passes one of them;
//   - every function that calls indirectly: a recursion through a table
//     or a function reference passes an indirect call;
//   - every function that calls and whose unchecked work can exceed
//     maxUncheckedCode: its own code plus, for each direct call, the
//     unchecked work of the callee if the callee has no entry check. This
//     bounds the work of an acyclic fan-out between two checks.
//
// Imported functions are the host's: they check for an interrupt
// themselves and never call back into the guest, so they close no cycle.

// maxUncheckedCode bounds, in bytes of code, what an acyclic call tree may
// run between two checks. Every instruction is at least one byte.
const maxUncheckedCode = 256

// entryChecks returns, for each function of fns (the module's own, after
// imported imports), whether its entry gets a check.
func entryChecks(fns []fnBody, imported uint32) []bool {
	checked := make([]bool, len(fns))
	unchecked := make([]int, len(fns)) // the bound above, for functions without an entry check
	for _, scc := range components(fns, imported) {
		f := scc[0]
		if len(scc) > 1 || fns[f].indirect || callsItself(fns[f], f, imported) {
			for _, g := range scc {
				checked[g] = fns[g].calls
			}
			continue
		}
		// Tarjan's algorithm emits a component after every component it
		// calls, so each callee's bound is known here.
		work := len(fns[f].code)
		for _, c := range fns[f].callees {
			if g, ok := defined(c, imported, len(fns)); ok && !checked[g] {
				work = min(work+unchecked[g], maxUncheckedCode+1)
			}
		}
		unchecked[f] = work
		checked[f] = fns[f].calls && work > maxUncheckedCode
	}
	return checked
}

// defined returns the position among fns of function index c, if it is
// one of the module's own.
func defined(c, imported uint32, n int) (int, bool) {
	if c < imported || int64(c-imported) >= int64(n) {
		return 0, false
	}
	return int(c - imported), true
}

func callsItself(f fnBody, self int, imported uint32) bool {
	for _, c := range f.callees {
		if g, ok := defined(c, imported, 1<<31-1); ok && g == self {
			return true
		}
	}
	return false
}

// components returns the strongly connected components of the direct call
// graph of fns, callees' components before their callers' (Tarjan's
// algorithm, without recursion: a module may nest calls deeper than a
// goroutine's stack should).
func components(fns []fnBody, imported uint32) [][]int {
	const unvisited = -1
	index := make([]int, len(fns))
	low := make([]int, len(fns))
	onStack := make([]bool, len(fns))
	for i := range index {
		index[i] = unvisited
	}
	var (
		out   [][]int
		stack []int
		next  int
	)
	type visit struct{ f, callee int } // a function, and how many of its callees are done
	for root := range fns {
		if index[root] != unvisited {
			continue
		}
		work := []visit{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(work) > 0 {
			v := &work[len(work)-1]
			if v.callee < len(fns[v.f].callees) {
				c := fns[v.f].callees[v.callee]
				v.callee++
				g, ok := defined(c, imported, len(fns))
				switch {
				case !ok:
				case index[g] == unvisited:
					index[g], low[g] = next, next
					next++
					stack = append(stack, g)
					onStack[g] = true
					work = append(work, visit{g, 0})
				case onStack[g]:
					low[v.f] = min(low[v.f], index[g])
				}
				continue
			}
			f := v.f
			work = work[:len(work)-1]
			if len(work) > 0 {
				parent := work[len(work)-1].f
				low[parent] = min(low[parent], low[f])
			}
			if low[f] == index[f] {
				var scc []int
				for {
					g := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[g] = false
					scc = append(scc, g)
					if g == f {
						break
					}
				}
				out = append(out, scc)
			}
		}
	}
	return out
}
