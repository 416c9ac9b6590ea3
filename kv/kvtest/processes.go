package kvtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcluster/wasmcluster/kv"
)

// childEnv names, in a test binary started by CompareAndSwapAcrossProcesses,
// the store the child works on; its presence makes the binary a child.
const childEnv = "WASMCLUSTER_KVTEST_CHILD"

// The work of each child: for each of keys counters, in turn, swaps
// compare-and-swap increments, as a guest's loop does them (get, then swap
// from what it read, again on a conflict). The first increment of a counter
// creates it, so every counter is a race to create a missing key.
const (
	children = 4
	threads  = 4 // goroutines per child, as a worker runs several guests
	keys     = 200
	swaps    = 5
)

// Open opens the store at a location: a file path or a URL.
type Open func(location string) (kv.Store, error)

// Child makes the test binary a child of CompareAndSwapAcrossProcesses
// when it was started as one: it does its work on the store open opens,
// prints what it did and exits. A backend's TestMain calls it first.
func Child(open Open) {
	location, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	if err := child(open, location); err != nil {
		fmt.Fprintln(os.Stderr, "kvtest child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child waits for its standard input to close, so that every child starts
// at once, then increments every counter swaps times from each of its
// threads and prints, a line each, the counters whose creating swap it
// won, then "conflicts N": how many of its swaps found another value.
func child(open Open, location string) error {
	s, err := open(location)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	conflicts := 0
	errs := make(chan error, threads)
	for range threads {
		go func() {
			created, c, err := increments(s)
			mu.Lock()
			defer mu.Unlock()
			for _, key := range created {
				fmt.Fprintln(out, key)
			}
			conflicts += c
			errs <- err
		}()
	}
	for range threads {
		if err := <-errs; err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "conflicts", conflicts)
	return out.Flush()
}

// increments is one thread of a child: it increments every counter swaps
// times, each call with a deadline of its own as a guest's calls have, and
// returns the counters whose creating swap it won and how many of its
// swaps found another value.
func increments(s kv.Store) (created []string, conflicts int, err error) {
	for k := range keys {
		key := fmt.Sprint("counter-", k)
		for range swaps {
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				old, found, err := s.Get(ctx, key)
				cancel()
				if err != nil {
					return nil, 0, err
				}
				n := 0
				if found {
					if n, err = strconv.Atoi(string(old)); err != nil {
						return nil, 0, fmt.Errorf("%s holds %q", key, old)
					}
				} else {
					old = nil
				}
				ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
				swapped, err := s.CompareAndSwap(ctx, key, old, []byte(strconv.Itoa(n+1)), 0)
				cancel()
				if err != nil {
					return nil, 0, err
				}
				if swapped {
					if !found {
						created = append(created, key)
					}
					break
				}
				conflicts++
			}
		}
	}
	return created, conflicts, nil
}

// CompareAndSwapAcrossProcesses starts several processes of the test
// binary (whose TestMain calls Child) on the store at location, an empty
// one that s is a handle on, and checks that no update was lost: every
// counter was created by exactly one of them and ends at the sum of
// everyone's increments.
func CompareAndSwapAcrossProcesses(t *testing.T, location string, s kv.Store) {
	t.Helper()
	type proc struct {
		cmd   *exec.Cmd
		start io.WriteCloser
		out   strings.Builder
	}
	procs := make([]*proc, children)
	for i := range procs {
		p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^$")}
		p.cmd.Env = append(os.Environ(), childEnv+"="+location)
		p.cmd.Stdout, p.cmd.Stderr = &p.out, os.Stderr
		var err error
		if p.start, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	for _, p := range procs {
		p.start.Close() // every child starts now
	}
	created, conflicts := map[string]int{}, 0
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(p.out.String()), "\n") {
			if n, ok := strings.CutPrefix(line, "conflicts "); ok {
				c, _ := strconv.Atoi(n)
				conflicts += c
				continue
			}
			created[line]++
		}
	}
	// How hard the children raced; a machine that ran them one after
	// another still checks what it can.
	t.Logf("%d swaps found another value", conflicts)
	for k := range keys {
		key := fmt.Sprint("counter-", k)
		if created[key] != 1 {
			t.Errorf("%s: %d processes won the swap that created it, want 1", key, created[key])
		}
		v, _, err := s.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if want := strconv.Itoa(children * threads * swaps); string(v) != want {
			t.Errorf("%s: %q after %s compare-and-swap increments", key, v, want)
		}
	}
}
