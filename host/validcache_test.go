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

	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

func TestOnlyModulesThatPassedValidationAreMarkedInTheCache(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	marks := func() []string {
		names, _ := filepath.Glob(filepath.Join(cache, validatedDir, "*"))
		return names
	}

	invalid := testwasm.WAT(t, `(module (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (global.set 0 (i32.const 1)) (i64.const 0)))`, "--no-check")
	_, err := New(ctx, invalid, Config{CompilationCacheDir: cache})
	require.ErrorContains(t, err, "not a valid Wasm module")
	assert.Empty(t, marks(), "a refused module is not marked")

	valid := testwasm.WAT(t, guestWAT(`(func (export "handle_request") (result i64) (i64.const 0))`))
	for range 2 { // the second load finds the mark
		h, err := New(ctx, valid, Config{CompilationCacheDir: cache})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, serve(h, httptest.NewRequest("GET", "/", nil)).Code)
		require.NoError(t, h.Close(ctx))
	}
	require.Equal(t, []string{validMark(cache, valid)}, marks())
	fi, err := os.Stat(marks()[0])
	require.NoError(t, err)
	assert.Zero(t, fi.Size())
}

func TestMarksNameTheWazeroOfGoMod(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(testwasm.Root(), "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(mod), "github.com/tetratelabs/wazero "+wazeroVersion+"\n",
		"go.mod's wazero is not %s: set wazeroVersion in validcache.go to it", wazeroVersion)
}
