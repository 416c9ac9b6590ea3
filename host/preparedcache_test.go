package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/signedcache"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// statusGuest answers every request with status code.
func statusGuest(t *testing.T, code string) []byte {
	return testwasm.WAT(t, guestWAT(`(func (export "handle_request") (result i64)
    (call $set_status_code (i32.const `+code+`)) (i64.const 0))`))
}

func TestOnlyModulesThatPassedValidationArePreparedInTheCache(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	entries := func() []string {
		names, _ := filepath.Glob(filepath.Join(cache, "signed", preparedKind, "*"))
		return names
	}

	invalid := testwasm.WAT(t, `(module (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (global.set 0 (i32.const 1)) (i64.const 0)))`, "--no-check")
	_, err := New(ctx, invalid, Config{CompilationCacheDir: cache})
	require.ErrorContains(t, err, "not a valid Wasm module")
	assert.Empty(t, entries(), "a refused module is not kept")

	valid := statusGuest(t, "201")
	for range 2 { // the second load finds the entry
		h, err := New(ctx, valid, Config{CompilationCacheDir: cache})
		require.NoError(t, err)
		assert.Equal(t, http.StatusCreated, serve(h, httptest.NewRequest("GET", "/", nil)).Code)
		require.NoError(t, h.Close(ctx))
	}
	require.Len(t, entries(), 1)
	signed, err := signedcache.Open(cache)
	require.NoError(t, err)
	prepared, ok := signed.Get(preparedKind, preparedID(valid))
	require.True(t, ok)
	secs, err := parseSections(valid)
	require.NoError(t, err)
	want, err := instrument(secs, valid[:8])
	require.NoError(t, err)
	assert.Equal(t, want, prepared, "the entry is the instrumented module")
}

func TestALoadTakesThePreparedModuleFromTheCacheOnlyWhenSigned(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	module := statusGuest(t, "201")
	status := func() int {
		h, err := New(ctx, module, Config{CompilationCacheDir: cache})
		require.NoError(t, err)
		defer h.Close(ctx)
		return serve(h, httptest.NewRequest("GET", "/", nil)).Code
	}

	// An entry for module that holds another module, prepared: a load
	// that serves the other one neither validated nor instrumented
	// module again.
	other := statusGuest(t, "202")
	secs, err := parseSections(other)
	require.NoError(t, err)
	otherPrepared, err := instrument(secs, other[:8])
	require.NoError(t, err)
	signed, err := signedcache.Open(cache)
	require.NoError(t, err)
	require.NoError(t, signed.Put(preparedKind, preparedID(module), otherPrepared))
	assert.Equal(t, http.StatusAccepted, status(), "the entry was used")

	// The same entry, changed on disk: no longer signed, so the module is
	// prepared afresh and its entry rewritten.
	entries, err := filepath.Glob(filepath.Join(cache, "signed", preparedKind, "*"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	data, err := os.ReadFile(entries[0])
	require.NoError(t, err)
	data[len(data)/2] ^= 0x80
	require.NoError(t, os.WriteFile(entries[0], data, 0o600))
	assert.Equal(t, http.StatusCreated, status(), "the changed entry was not used")
	again, ok := signed.Get(preparedKind, preparedID(module))
	require.True(t, ok)
	assert.NotEqual(t, otherPrepared, again, "rewritten with module's own")
}

func TestAModuleOverTheMemoryLimitIsRefusedEvenWhenPrepared(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	module := testwasm.WAT(t, `(module (memory (export "memory") 4)
  (func (export "handle_request") (result i64) (i64.const 0)))`)
	h, err := New(ctx, module, Config{CompilationCacheDir: cache})
	require.NoError(t, err)
	require.NoError(t, h.Close(ctx))
	signed, err := signedcache.Open(cache)
	require.NoError(t, err)
	_, ok := signed.Get(preparedKind, preparedID(module))
	require.True(t, ok, "prepared")
	_, err = New(ctx, module, Config{CompilationCacheDir: cache, MaxMemory: 2 * 65536})
	assert.ErrorContains(t, err, "module needs 0.25 MiB of memory to start")
}
