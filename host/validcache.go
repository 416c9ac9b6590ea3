package host

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
)

// validatedDir is the folder of the compilation cache that remembers the
// modules that passed validation as written, one empty file per module,
// named by the wazero version and the SHA-256 of the module's bytes.
//
// Validation takes about an eighth of an uncached load of a Go guest, and
// every process of a cluster loads the module: the check process, then
// each worker. With the mark, only the first pays. Trusting the mark
// trusts the cache directory no more than wazero already does: the
// compiled native code it loads from there runs as is.
const validatedDir = "validated"

// wazeroVersion is the version of wazero whose validator a mark vouches
// for; a test holds it equal to go.mod's, so that a new wazero validates
// every module afresh.
const wazeroVersion = "v1.12.0"

// validMark is the path of wasm's mark in cacheDir, or "" without a cache.
func validMark(cacheDir string, wasm []byte) string {
	if cacheDir == "" {
		return ""
	}
	sum := sha256.Sum256(wasm)
	return filepath.Join(cacheDir, validatedDir, wazeroVersion+"-"+hex.EncodeToString(sum[:]))
}

// knownValid reports whether mark records a module already validated.
func knownValid(mark string) bool {
	if mark == "" {
		return false
	}
	_, err := os.Stat(mark)
	return err == nil
}

// rememberValid records mark. It is only a saving: a mark that cannot be
// written means the next load validates again.
func rememberValid(mark string) {
	if mark == "" {
		return
	}
	dir := filepath.Dir(mark)
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	// Written under another name and renamed, so that a process sharing
	// the cache never sees a mark half made.
	tmp, err := os.CreateTemp(dir, ".mark-*")
	if err != nil {
		return
	}
	_ = tmp.Close()
	if os.Rename(tmp.Name(), mark) != nil {
		_ = os.Remove(tmp.Name())
	}
}
