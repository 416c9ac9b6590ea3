package host

import (
	"crypto/sha256"

	"github.com/wasmcluster/wasmcluster/internal/signedcache"
)

// preparedKind names the entries of the compilation cache directory's
// signed cache (see internal/signedcache) that hold a module as prepare
// returns it: validated as written, then instrumented. The entry's id is
// the SHA-256 of the module's bytes; the signed cache adds the program's
// build ID, so that a change to wazero or to the instrumenter prepares
// every module afresh.
//
// Validating and instrumenting a Go guest cost about a third of a warm
// load, and every process of a cluster loads the module: the check
// process, then each worker. With the entry, only the first pays. The
// instrumented bytes decide whether a guest can be interrupted, so they
// are only taken back from an entry signed with the cache's key; wazero's
// compiled code, beside it, is trusted as the directory's owner left it.
const preparedKind = "prepared"

// preparedCache returns the signed cache in cacheDir, or nil — nothing
// kept — without a directory or where it cannot be used.
func preparedCache(cacheDir string) *signedcache.Cache {
	if cacheDir == "" {
		return nil
	}
	c, err := signedcache.Open(cacheDir)
	if err != nil {
		return nil
	}
	return c
}

// preparedID is the id of wasm's entry.
func preparedID(wasm []byte) []byte {
	sum := sha256.Sum256(wasm)
	return sum[:]
}
