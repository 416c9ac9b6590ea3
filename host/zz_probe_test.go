package host

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestZZProbe(t *testing.T) {
	ctx := context.Background()
	cache := os.Getenv("PROBE_CACHE")
	for round := 0; round < 8; round++ {
		t0 := time.Now()
		wasm, _ := os.ReadFile(os.Getenv("PROBE_WASM"))
		h, err := New(ctx, wasm, Config{CompilationCacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("New %v", time.Since(t0))
		h.Close(ctx)
	}
}
