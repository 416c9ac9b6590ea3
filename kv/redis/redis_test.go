package redis_test

import (
	"context"
	"testing"

	"github.com/wasmcluster/wasmcluster/internal/testredis"
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
