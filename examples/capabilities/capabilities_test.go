// Package capabilities_test serves the capability examples of the guest
// SDKs through the host: host functions and outbound HTTP.
package capabilities_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// examples builds each language's capabilities example from source.
var examples = []struct {
	name  string
	build func(testing.TB) string
}{
	{"c", func(t testing.TB) string {
		return testwasm.C(t, true, "examples/capabilities/c/capabilities.c", "guest-sdk/c/wasmcluster.c", "guest-sdk/c/wc_capabilities.c")
	}},
	{"rust", func(t testing.TB) string { return testwasm.Rust(t, "examples/capabilities/rust/capabilities.rs") }},
	{"assemblyscript", func(t testing.TB) string {
		return testwasm.AssemblyScript(t, "examples/capabilities/assemblyscript/capabilities.ts")
	}},
	{"wat", func(t testing.TB) string { return testwasm.WATFile(t, "examples/capabilities/wat/capabilities.wat") }},
}

func TestCapabilities(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer upstream.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	defer refused.Close()
	greet := func(_ context.Context, in []byte) ([]byte, error) { return []byte("Hello, " + string(in) + "!"), nil }

	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			h, err := host.Load(context.Background(), ex.build(t), host.Config{
				Functions: map[string]host.Function{"greet": greet},
				Outbound:  host.Outbound{Allow: []string{upstream.URL}},
			})
			require.NoError(t, err)
			defer h.Close(context.Background())
			srv := httptest.NewServer(h)
			defer srv.Close()
			get := func(path string) (int, string) {
				res, err := http.Get(srv.URL + path)
				require.NoError(t, err)
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(body)
			}

			code, body := get("/greet?Ada")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, "Hello, Ada!", body)
			code, body = get("/fetch?" + upstream.URL + "/up")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, "200 upstream /up", body)
			code, body = get("/fetch?" + refused.URL + "/no")
			assert.Equal(t, http.StatusBadGateway, code)
			assert.Contains(t, body, "error: outbound request refused: ")
		})
	}
}
