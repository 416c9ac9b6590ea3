package host

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcluster/wasmcluster/internal/discard"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// benchWAT exports bench_plain, which does nothing, and bench_call, which
// calls the host function "echo" with 16 bytes and gets 16 back.
var benchWAT = guestWATImporting(callImports, `
  (func (export "handle_request") (result i64) (i64.const 0))
  (func (export "bench_plain"))
  (func (export "bench_call")
    (drop (call $call (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 16) (i32.const 64) (i32.const 64))))`,
	"0 echo", "16 0123456789abcdef")

// echoFunction returns its input.
func echoFunction(_ context.Context, in []byte) ([]byte, error) { return in, nil }

// BenchmarkHostFunction calls an export that does nothing next to one that
// makes a host function round trip of 16 bytes each way, in a WAT and a Go
// guest, on a live instance inside one request: the difference is the
// cost of a call into the host function.
func BenchmarkHostFunction(b *testing.B) {
	// One request makes every call: lift the per-request bound.
	cfg := Config{Functions: map[string]Function{"echo": echoFunction}, FunctionLimits: FunctionLimits{MaxCalls: 1 << 40}}
	guests := []struct {
		name string
		h    func(b *testing.B) *Handler
	}{
		{"wat", func(b *testing.B) *Handler { return newGuest(b, benchWAT, cfg) }},
		{"go", func(b *testing.B) *Handler {
			h, err := Load(context.Background(), testwasm.GoReactor(b, "guest-sdk/go/internal/testcapabilities"), cfg)
			require.NoError(b, err)
			b.Cleanup(func() { _ = h.Close(context.Background()) })
			return h
		}},
	}
	for _, g := range guests {
		h := g.h(b)
		for _, export := range []string{"bench_plain", "bench_call"} {
			b.Run(g.name+"/"+export, func(b *testing.B) {
				inst, err := h.pool.get(context.Background())
				require.NoError(b, err)
				r := httptest.NewRequest("GET", "/", nil)
				inst.ex.reset(discard.New(), r, h.cfg.Next, 1)
				inst.begin(r, h.cfg.Timeout)
				defer func() {
					inst.end()
					inst.ex.clear()
					h.pool.put(inst)
				}()
				fn := inst.mod.ExportedFunction(export)
				require.NotNil(b, fn)
				b.ReportAllocs()
				for b.Loop() {
					if err := callBench(inst, fn); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func callBench(inst *instance, fn api.Function) error { return fn.CallWithStack(inst, inst.stack[:]) }

// BenchmarkOutboundGet makes the same GET to a local server through the Go
// guest's http.DefaultClient and from native Go.
func BenchmarkOutboundGet(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello from upstream"))
	}))
	b.Cleanup(up.Close)
	target := up.URL + "/get"
	b.Run("native", func(b *testing.B) {
		benchmarkFetch(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, err := http.Get(target)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer res.Body.Close()
			w.WriteHeader(res.StatusCode)
			_, _ = io.Copy(w, res.Body)
		}), target)
	})
	b.Run("go-guest", func(b *testing.B) {
		h, err := Load(context.Background(), testwasm.GoReactor(b, "guest-sdk/go/internal/testcapabilities"),
			Config{Outbound: Outbound{Allow: []string{up.URL}}})
		require.NoError(b, err)
		b.Cleanup(func() { _ = h.Close(context.Background()) })
		benchmarkFetch(b, h, target)
	})
}

// benchmarkFetch serves GET /fetch?url=target to h b.N times, checking
// the status.
func benchmarkFetch(b *testing.B, h http.Handler, target string) {
	r := httptest.NewRequest("GET", "/fetch?url="+url.QueryEscape(target), nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
