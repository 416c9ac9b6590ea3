// Package kvtest checks that a kv.Store behaves as the interface says; each
// backend's tests run it on a real store.
package kvtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmcluster/wasmcluster/kv"
)

// Run checks s, an empty store.
func Run(t *testing.T, s kv.Store) {
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}

	_, found, err := s.Get(ctx, "a")
	must(err)
	expect("Get of an unset key found", found, false)
	must(s.Set(ctx, "a", []byte("one"), 0))
	v, found, err := s.Get(ctx, "a")
	must(err)
	expect("Get after Set", string(v)+fmt.Sprint(found), "onetrue")
	must(s.Set(ctx, "empty", nil, 0))
	v, found, err = s.Get(ctx, "empty")
	must(err)
	expect("an empty value is set", found && v != nil && len(v) == 0, true)
	ok, err := s.Exists(ctx, "a")
	must(err)
	expect("Exists", ok, true)
	ok, err = s.Delete(ctx, "a")
	must(err)
	expect("Delete of a set key", ok, true)
	ok, err = s.Delete(ctx, "a")
	must(err)
	expect("Delete of an unset key", ok, false)
	ok, err = s.Exists(ctx, "a")
	must(err)
	expect("Exists after Delete", ok, false)

	// List: byte order, prefix, pages.
	for _, k := range []string{"u/3", "u/1", "u/2", "v/1", "u", "u/\xff"} {
		must(s.Set(ctx, k, []byte(k), 0))
	}
	keys, err := s.List(ctx, "u/", "", 2)
	must(err)
	expect("List first page", keys, []string{"u/1", "u/2"})
	keys, err = s.List(ctx, "u/", "u/2", 2)
	must(err)
	expect("List second page", keys, []string{"u/3", "u/\xff"})
	keys, err = s.List(ctx, "u/", "u/\xff", 2)
	must(err)
	expect("List past the end", len(keys), 0)

	// Increment.
	n, err := s.Increment(ctx, "n", 5)
	must(err)
	expect("Increment of an unset key", n, 5)
	n, err = s.Increment(ctx, "n", -7)
	must(err)
	expect("Increment by a negative delta", n, -2)
	v, _, err = s.Get(ctx, "n")
	must(err)
	expect("a counter reads as decimal digits", string(v), "-2")
	_, err = s.Increment(ctx, "u/1", 1)
	expect("Increment of a non-number", errors.Is(err, kv.ErrNotInteger), true)
	must(s.Set(ctx, "big", []byte("9223372036854775807"), 0))
	_, err = s.Increment(ctx, "big", 1)
	expect("Increment past int64", errors.Is(err, kv.ErrOverflow), true)

	// CompareAndSwap.
	ok, err = s.CompareAndSwap(ctx, "c", nil, []byte("x"), 0)
	must(err)
	expect("CompareAndSwap creating a key", ok, true)
	ok, err = s.CompareAndSwap(ctx, "c", nil, []byte("y"), 0)
	must(err)
	expect("CompareAndSwap creating a key that is set", ok, false)
	ok, err = s.CompareAndSwap(ctx, "c", []byte("z"), []byte("y"), 0)
	must(err)
	expect("CompareAndSwap from the wrong value", ok, false)
	ok, err = s.CompareAndSwap(ctx, "c", []byte("x"), []byte("y"), 0)
	must(err)
	expect("CompareAndSwap from the right value", ok, true)
	v, _, err = s.Get(ctx, "c")
	must(err)
	expect("value after CompareAndSwap", string(v), "y")

	// Time-to-live.
	must(s.Set(ctx, "t", []byte("soon gone"), 200*time.Millisecond))
	ok, err = s.Exists(ctx, "t")
	must(err)
	expect("a key with a time-to-live before it passes", ok, true)
	time.Sleep(400 * time.Millisecond)
	ok, err = s.Exists(ctx, "t")
	must(err)
	expect("a key after its time-to-live", ok, false)
	ok, err = s.CompareAndSwap(ctx, "t", nil, []byte("back"), 0)
	must(err)
	expect("CompareAndSwap creating an expired key", ok, true)

	// Of concurrent compare-and-swaps that create a key, one wins.
	for round := range 20 {
		key := fmt.Sprint("create-", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.CompareAndSwap(ctx, key, nil, []byte("mine"), 0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		expect("compare-and-swaps that created "+key, wins.Load(), 1)
	}

	// Concurrent increments lose nothing.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := s.Increment(ctx, "race", 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, _, err = s.Get(ctx, "race")
	must(err)
	expect("concurrent increments", string(v), "400")
}
