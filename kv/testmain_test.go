package kv_test

import (
	"os"
	"testing"

	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// TestMain removes the guests the tests built once they are done.
func TestMain(m *testing.M) { os.Exit(testwasm.Main(m)) }
