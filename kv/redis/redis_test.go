package redis_test

import (
	"context"
	"os"
	"testing"

	"github.com/wasmcluster/wasmcluster/internal/testredis"
	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/kvtest"
	"github.com/wasmcluster/wasmcluster/kv/redis"
)

func TestStore(t *testing.T) {
	srv := testredis.Start(t)
	s, err := redis.Open(srv.URL() + "?prefix=test:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	kvtest.Run(t, s)
}

// TestMain lets the binary be a child of kvtest.CompareAndSwapAcrossProcesses.
func TestMain(m *testing.M) {
	kvtest.Child(func(url string) (kv.Store, error) { return redis.Open(url) })
	os.Exit(m.Run())
}

// TestCompareAndSwapAcrossProcesses: processes on one Redis each swap the
// same counters into being and up; none loses an update.
func TestCompareAndSwapAcrossProcesses(t *testing.T) {
	url := testredis.Start(t).URL() + "?prefix=procs:"
	s, err := redis.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kvtest.CompareAndSwapAcrossProcesses(t, url, s)
}
