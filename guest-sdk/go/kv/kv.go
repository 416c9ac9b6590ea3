// Package kv is the key-value state a wasmcluster guest shares with every
// other instance and worker of its app: named stores the operator gives
// it (wasmcluster serve --kv NAME=URL), the usual one "default".
//
//	n, err := kv.Increment("hits", 1)
//	v, found, err := kv.Get("user/2")
//	err = kv.Set("user/2", []byte(`{"name":"Ada"}`))
//
// The package-level functions use the store "default"; Open names another.
// A call returns an error when the store fails or is not given to this
// guest, and never traps. Keys are non-empty and hold no NUL byte.
package kv

import (
	"encoding/binary"
	"strings"
	"time"
)

// Store is a named store. Its zero value is not usable: call Open.
type Store struct{ name string }

// Open returns the store called name. It does not call the host: a store
// the operator did not give this guest fails its calls.
func Open(name string) Store { return Store{name: name} }

// Default is the store called "default", which the package-level
// functions use.
var Default = Open("default")

// Error is a call the host refused or a store that failed.
type Error struct{ Message string }

func (e *Error) Error() string { return "kv: " + e.Message }

// Codes the host returns instead of a length.
const (
	codeFailed   = -1
	codeNotFound = -2
	codeConflict = -3
)

// buf receives results; a guest instance runs one request at a time.
var buf = make([]byte, 4096)

// result turns a call's return into its result bytes, or an error for a
// failure. Other codes come back as code, with a nil error.
func result(r int64) (out []byte, code int64, err error) {
	switch {
	case r == codeFailed:
		return nil, r, &Error{Message: lastError()}
	case r < 0:
		return nil, r, nil
	case int(r) > len(buf):
		buf = make([]byte, r)
		readResult(buf)
	}
	return buf[:r], 0, nil
}

// lastError is the message of the last failed call.
func lastError() string {
	msg := make([]byte, 256)
	n := lastErrorCall(msg)
	if int(n) > len(msg) {
		msg = make([]byte, n)
		lastErrorCall(msg)
	}
	return string(msg[:n])
}

// Get returns the value of key; found is false when it is not set.
func (s Store) Get(key string) (value []byte, found bool, err error) {
	out, code, err := result(kvGet(s.name, key, buf))
	if err != nil || code == codeNotFound {
		return nil, false, err
	}
	return append([]byte{}, out...), true, nil
}

// Set sets key to value, for good.
func (s Store) Set(key string, value []byte) error { return s.SetTTL(key, value, 0) }

// SetTTL sets key to value until ttl has passed (0: for good).
func (s Store) SetTTL(key string, value []byte, ttl time.Duration) error {
	_, _, err := result(kvSet(s.name, key, value, ttl.Milliseconds()))
	return err
}

// Delete removes key and reports whether it was set.
func (s Store) Delete(key string) (found bool, err error) {
	_, code, err := result(kvDelete(s.name, key))
	return err == nil && code != codeNotFound, err
}

// Exists reports whether key is set.
func (s Store) Exists(key string) (bool, error) {
	_, code, err := result(kvExists(s.name, key))
	return err == nil && code != codeNotFound, err
}

// List returns up to limit keys (0: as many as the host allows) that
// start with prefix, in byte order, each after the key after ("" for the
// first page). A page shorter than limit is the last:
//
//	for after := ""; ; {
//		keys, err := kv.List("user/", after, 100)
//		...
//		if len(keys) < 100 { break }
//		after = keys[len(keys)-1]
//	}
func (s Store) List(prefix, after string, limit int) ([]string, error) {
	out, _, err := result(kvList(s.name, prefix, after, int32(limit), buf))
	if err != nil {
		return nil, err
	}
	keys := strings.Split(string(out), "\x00")
	return keys[:len(keys)-1], nil
}

// Increment adds delta to the counter at key (an unset key counts as 0)
// and returns the new value, atomically across every worker. Counters are
// stored as decimal digits.
func (s Store) Increment(key string, delta int64) (int64, error) {
	out, _, err := result(kvIncrement(s.name, key, delta, buf))
	if err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(out)), nil
}

// CompareAndSwap sets key to value only if it holds old — or, with old
// nil, only if it is not set — and reports whether it did.
func (s Store) CompareAndSwap(key string, old, value []byte) (swapped bool, err error) {
	_, code, err := result(kvCAS(s.name, key, old, value, 0))
	return err == nil && code != codeConflict, err
}

// Get returns the value of key in the default store.
func Get(key string) ([]byte, bool, error) { return Default.Get(key) }

// Set sets key to value in the default store.
func Set(key string, value []byte) error { return Default.Set(key, value) }

// SetTTL sets key to value in the default store until ttl has passed.
func SetTTL(key string, value []byte, ttl time.Duration) error {
	return Default.SetTTL(key, value, ttl)
}

// Delete removes key from the default store.
func Delete(key string) (bool, error) { return Default.Delete(key) }

// Exists reports whether key is set in the default store.
func Exists(key string) (bool, error) { return Default.Exists(key) }

// List lists keys of the default store, as Store.List does.
func List(prefix, after string, limit int) ([]string, error) {
	return Default.List(prefix, after, limit)
}

// Increment adds delta to the counter at key in the default store.
func Increment(key string, delta int64) (int64, error) { return Default.Increment(key, delta) }

// CompareAndSwap swaps key's value in the default store, as
// Store.CompareAndSwap does.
func CompareAndSwap(key string, old, value []byte) (bool, error) {
	return Default.CompareAndSwap(key, old, value)
}
