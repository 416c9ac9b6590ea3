// Package kv is the key-value state that wasmcluster gives its guests: one
// small Store interface and the limits the host applies to guests' calls.
// Its backends live in subpackages: kv/sqlite, a database file that every
// worker process of a machine shares (the default), and kv/redis, a Redis
// server that several machines share.
//
// A store holds byte values under byte-string keys. Keys are non-empty
// and hold no NUL byte, so that a list of keys can be written as
// NUL-terminated strings. Values set with a time-to-live disappear after
// it: they are neither read, listed, counted by Exists, nor incremented.
// Counters are values written as decimal digits ("42"), as Redis writes
// them, so that Get reads what Increment wrote on every backend.
package kv

import (
	"context"
	"errors"
	"time"
)

// Store is one named key-value store. Its methods are safe for concurrent
// use, and each returns once ctx is done at the latest.
type Store interface {
	// Get returns the value of key; found is false when key is not set.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// Set sets key to value. A ttl > 0 expires the key after it; 0 keeps
	// it until deleted.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key and reports whether it was set.
	Delete(ctx context.Context, key string) (found bool, err error)
	// Exists reports whether key is set.
	Exists(ctx context.Context, key string) (bool, error)
	// List returns up to limit keys that start with prefix, in byte
	// order, each after the key after (all keys when after is ""). A page
	// with fewer than limit keys is the last one.
	List(ctx context.Context, prefix, after string, limit int) ([]string, error)
	// Increment adds delta to the counter at key, which an unset key
	// starts at 0, and returns the new value. A key whose value is not a
	// decimal integer fails with ErrNotInteger. A time-to-live the key had
	// is kept.
	Increment(ctx context.Context, key string, delta int64) (int64, error)
	// CompareAndSwap sets key to value only if its current value is old,
	// or, with old nil, only if key is not set; swapped says whether it
	// did. A ttl > 0 expires the key after it.
	CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (swapped bool, err error)
	// Close releases the store's connections and files.
	Close() error
}

// Errors of the backends, to test with errors.Is.
var (
	// ErrNotInteger is Increment on a value that is not a decimal integer.
	ErrNotInteger = errors.New("value is not a decimal integer")
	// ErrQuota is a write that would take a store over its quota.
	ErrQuota = errors.New("store is over its quota")
	// ErrOverflow is an Increment past the range of an int64.
	ErrOverflow = errors.New("increment overflows a 64-bit integer")
)
