package host

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/kvtest"
)

// memStore is a kv.Store in a map, for tests of the host's side of the
// key-value functions that make many calls: FuzzHostFunctions checks the
// arguments' handling, which every backend shares, at the speed of a map.
type memStore struct {
	mu   sync.Mutex
	keys map[string]memValue
}

type memValue struct {
	v       []byte
	expires time.Time // zero: never
}

func newMemStore() *memStore { return &memStore{keys: map[string]memValue{}} }

// get is the live value of key; the caller holds mu.
func (s *memStore) get(key string) ([]byte, bool) {
	e, ok := s.keys[key]
	if ok && !e.expires.IsZero() && !time.Now().Before(e.expires) {
		delete(s.keys, key)
		return nil, false
	}
	return e.v, ok
}

func (s *memStore) set(key string, value []byte, ttl time.Duration) {
	e := memValue{v: append([]byte{}, value...)} // set, even when empty
	if ttl > 0 {
		e.expires = time.Now().Add(ttl)
	}
	s.keys[key] = e
}

func (s *memStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.get(key)
	if !ok {
		return nil, false, nil
	}
	return append([]byte{}, v...), true, nil
}

func (s *memStore) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(key, value, ttl)
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.get(key)
	delete(s.keys, key)
	return ok, nil
}

func (s *memStore) Exists(_ context.Context, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.get(key)
	return ok, nil
}

func (s *memStore) List(_ context.Context, prefix, after string, limit int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.keys {
		if _, ok := s.get(k); ok && strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys[:min(len(keys), limit)], nil
}

func (s *memStore) Increment(_ context.Context, key string, delta int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	if v, ok := s.get(key); ok {
		var err error
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return 0, kv.ErrNotInteger
		}
	}
	sum := n + delta
	if (delta > 0 && sum < n) || (delta < 0 && sum > n) {
		return 0, kv.ErrOverflow
	}
	e := s.keys[key]
	e.v = []byte(strconv.FormatInt(sum, 10))
	s.keys[key] = e // the time-to-live is kept
	return sum, nil
}

func (s *memStore) CompareAndSwap(_ context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.get(key)
	if (old == nil && ok) || (old != nil && (!ok || string(v) != string(old))) {
		return false, nil
	}
	s.set(key, value, ttl)
	return true, nil
}

func (s *memStore) Close() error { return nil }

// The map store behaves as every backend must.
func TestMemStoreIsAStore(t *testing.T) { kvtest.Run(t, newMemStore()) }
