package wasmcluster_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// bodyWAT answers every request with its body: a handler with the given
// text in its bytes.
func bodyWAT(body string) string {
	return `(module
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "` + body + `")
  (func (export "handle_request") (result i64)
    (call $write_body (i32.const 1) (i32.const 0) (i32.const ` + strconv.Itoa(len(body)) + `))
    (i64.const 0)))`
}

// skipped is the primary's line for a module whose check it skipped.
const skipped = "module passed its check before; not checked again"

func TestAWarmStartSkipsTheCheckOfAModuleThatPassedIt(t *testing.T) {
	cache := t.TempDir()
	module := filepath.Join(t.TempDir(), "handler.wasm")
	write := func(body string) {
		require.NoError(t, os.WriteFile(module, testwasm.WAT(t, bodyWAT(body)), 0o644))
	}
	// start serves module and reports whether the primary ran its check.
	start := func(wantBody string, extra ...string) (checked bool) {
		t.Helper()
		s := serveModule(t, module, append([]string{"--cache-dir", cache}, extra...)...)
		_, body, err := s.get("/")
		require.NoError(t, err)
		assert.Equal(t, wantBody, body)
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
		err = <-s.exit
		s.exit <- err // for the cleanup
		require.NoError(t, err)
		log := s.log.String()
		require.Contains(t, log, "module ready; starting the workers")
		return !strings.Contains(log, skipped)
	}

	write("first")
	assert.True(t, start("first"), "an empty cache: checked")
	assert.False(t, start("first"), "the same module again: not checked")

	write("other")
	assert.True(t, start("other"), "a changed module: checked again")
	assert.True(t, start("other", "--env", "K=V"), "a changed configuration: checked again")
	assert.False(t, start("other", "--env", "K=V"), "that configuration again: not checked")

	// The records made, each replaced by another's: a record at another's
	// name does not count.
	records, err := filepath.Glob(filepath.Join(cache, "signed", "checked", "*"))
	require.NoError(t, err)
	require.Len(t, records, 3, "a record for each module and configuration that passed")
	contents := make([][]byte, len(records))
	for i, r := range records {
		contents[i], err = os.ReadFile(r)
		require.NoError(t, err)
	}
	for i, r := range records {
		require.NoError(t, os.WriteFile(r, contents[(i+1)%len(records)], 0o600))
	}
	assert.True(t, start("other", "--env", "K=V"), "no record counts: checked again")
	assert.False(t, start("other", "--env", "K=V"), "recorded again")
}
