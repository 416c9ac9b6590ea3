package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/kvtest"
	"github.com/wasmcluster/wasmcluster/kv/sqlite"
)

func open(t *testing.T, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestMain lets the binary be a child of kvtest.CompareAndSwapAcrossProcesses.
func TestMain(m *testing.M) {
	kvtest.Child(func(path string) (kv.Store, error) {
		return sqlite.Open(context.Background(), path, sqlite.Options{})
	})
	os.Exit(m.Run())
}

func TestStore(t *testing.T) {
	kvtest.Run(t, open(t, filepath.Join(t.TempDir(), "kv.db"), sqlite.Options{}))
}

// TestCompareAndSwapAcrossProcesses: processes that share the file each
// swap the same counters into being and up; none loses an update.
func TestCompareAndSwapAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	kvtest.CompareAndSwapAcrossProcesses(t, path, open(t, path, sqlite.Options{}))
}

func TestQuotaRefusesGrowthNotShrinking(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "kv.db"), sqlite.Options{Quota: 100})
	if err := s.Set(ctx, "a", make([]byte, 90), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "b", make([]byte, 20), 0); !errors.Is(err, kv.ErrQuota) {
		t.Fatalf("a write over the quota: got %v, want kv.ErrQuota", err)
	}
	if err := s.Set(ctx, "a", make([]byte, 10), 0); err != nil {
		t.Fatalf("a write that shrinks: %v", err)
	}
	if err := s.Set(ctx, "b", make([]byte, 20), 0); err != nil {
		t.Fatalf("a write that fits again: %v", err)
	}
}

func TestTwoHandlesOnOneFileSeeEachOther(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kv.db")
	a, b := open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{})
	if _, err := a.Increment(ctx, "n", 1); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Increment(ctx, "n", 1); err != nil || n != 2 {
		t.Fatalf("second handle: got %d, %v; want 2", n, err)
	}
}
