//go:build wasip1

package kv

import "unsafe"

// The wasmcluster host module's functions this package calls, and their
// Go faces: strings and slices become (address, length) pairs.

//go:wasmimport wasmcluster read_result
func readResultImport(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport wasmcluster last_error
func lastErrorImport(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport wasmcluster kv_get
func kvGetImport(store unsafe.Pointer, storeLen uint32, key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, limit uint32) int64

//go:wasmimport wasmcluster kv_set
func kvSetImport(store unsafe.Pointer, storeLen uint32, key unsafe.Pointer, keyLen uint32, value unsafe.Pointer, valueLen uint32, ttlMillis int64) int64

//go:wasmimport wasmcluster kv_delete
func kvDeleteImport(store unsafe.Pointer, storeLen uint32, key unsafe.Pointer, keyLen uint32) int64

//go:wasmimport wasmcluster kv_exists
func kvExistsImport(store unsafe.Pointer, storeLen uint32, key unsafe.Pointer, keyLen uint32) int64

//go:wasmimport wasmcluster kv_list
func kvListImport(store unsafe.Pointer, storeLen uint32, prefix unsafe.Pointer, prefixLen uint32, after unsafe.Pointer, afterLen uint32, limit int32, buf unsafe.Pointer, bufLimit uint32) int64

//go:wasmimport wasmcluster kv_increment
func kvIncrementImport(store unsafe.Pointer, storeLen uint32, key unsafe.Pointer, keyLen uint32, delta int64, buf unsafe.Pointer, limit uint32) int64

//go:wasmimport wasmcluster kv_cas
func kvCASImport(store unsafe.Pointer, storeLen uint32, key unsafe.Pointer, keyLen uint32, old unsafe.Pointer, oldLen uint32, value unsafe.Pointer, valueLen uint32, ttlMillis int64) int64

// absent, as the length of a compare-and-swap's old value, means "not set".
const absent = 0xffffffff

func sp(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }
func bp(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func readResult(b []byte) uint32    { return readResultImport(bp(b), uint32(len(b))) }
func lastErrorCall(b []byte) uint32 { return lastErrorImport(bp(b), uint32(len(b))) }

func kvGet(store, key string, out []byte) int64 {
	return kvGetImport(sp(store), uint32(len(store)), sp(key), uint32(len(key)), bp(out), uint32(len(out)))
}

func kvSet(store, key string, value []byte, ttlMillis int64) int64 {
	return kvSetImport(sp(store), uint32(len(store)), sp(key), uint32(len(key)), bp(value), uint32(len(value)), ttlMillis)
}

func kvDelete(store, key string) int64 {
	return kvDeleteImport(sp(store), uint32(len(store)), sp(key), uint32(len(key)))
}

func kvExists(store, key string) int64 {
	return kvExistsImport(sp(store), uint32(len(store)), sp(key), uint32(len(key)))
}

func kvList(store, prefix, after string, limit int32, out []byte) int64 {
	return kvListImport(sp(store), uint32(len(store)), sp(prefix), uint32(len(prefix)), sp(after), uint32(len(after)), limit, bp(out), uint32(len(out)))
}

func kvIncrement(store, key string, delta int64, out []byte) int64 {
	return kvIncrementImport(sp(store), uint32(len(store)), sp(key), uint32(len(key)), delta, bp(out), uint32(len(out)))
}

func kvCAS(store, key string, old, value []byte, ttlMillis int64) int64 {
	oldLen := uint32(len(old))
	if old == nil {
		oldLen = absent
	}
	return kvCASImport(sp(store), uint32(len(store)), sp(key), uint32(len(key)), bp(old), oldLen, bp(value), uint32(len(value)), ttlMillis)
}
