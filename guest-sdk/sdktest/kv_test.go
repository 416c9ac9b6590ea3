package sdktest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/sqlite"
)

// kvGuests build testdata/kv.* on each SDK's key-value wrapper. Each
// speaks the same protocol, on the store "default":
//
//	PUT /k/KEY (X-TTL: ms)    sets the body          200
//	GET /k/KEY                the value              200, 404
//	DELETE /k/KEY, HEAD /k/KEY delete, exists        200, 404
//	POST /inc/KEY             increments by one      200 and the new value
//	PUT /swap/KEY (X-Old: v)  compare-and-swap the body in; no X-Old: the
//	                          key is not set         200, 409
//	GET /list/PREFIX (X-After, X-Limit) the keys, a line each
//
// and a call that fails answers 503 with the host's message.
var kvGuests = []struct {
	name  string
	build func(testing.TB) string
}{
	{"c", func(t testing.TB) string {
		return testwasm.C(t, true, "guest-sdk/sdktest/testdata/kv.c", "guest-sdk/c/wasmcluster.c")
	}},
	{"rust", func(t testing.TB) string { return testwasm.Rust(t, "guest-sdk/sdktest/testdata/kv.rs") }},
	{"assemblyscript", func(t testing.TB) string {
		return testwasm.AssemblyScript(t, "guest-sdk/sdktest/testdata/kv.ts")
	}},
}

// TestEverySDKsKeyValueCalls drives get, set, delete, exists, increment,
// compare-and-swap, list and a time-to-live through each SDK's wrapper,
// the host and a real store.
func TestEverySDKsKeyValueCalls(t *testing.T) {
	for _, sdk := range kvGuests {
		t.Run(sdk.name, func(t *testing.T) {
			ctx := context.Background()
			store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kv.db"), sqlite.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = store.Close() })
			h, err := host.Load(ctx, sdk.build(t), host.Config{KV: map[string]kv.Store{"default": store}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = h.Close(ctx) })
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			do := func(method, path, body string, headers ...string) string {
				t.Helper()
				req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				require.NoError(t, err)
				for i := 0; i+1 < len(headers); i += 2 {
					req.Header.Set(headers[i], headers[i+1])
				}
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				require.NoError(t, err)
				return strings.TrimSpace(res.Status[:3] + " " + string(b))
			}

			for _, k := range []string{"a/1", "a/2", "a/3", "b/1"} {
				require.Equal(t, "200", do("PUT", "/k/"+k, "v-"+k))
			}
			assert.Equal(t, "200 v-a/2", do("GET", "/k/a/2", ""))
			assert.Equal(t, "404", do("GET", "/k/none", ""))
			assert.Equal(t, "200", do("HEAD", "/k/a/1", ""))
			assert.Equal(t, "404", do("HEAD", "/k/none", ""))
			assert.Equal(t, "200", do("DELETE", "/k/a/3", ""))
			assert.Equal(t, "404", do("DELETE", "/k/a/3", ""), "deleted already")
			assert.Equal(t, "404", do("GET", "/k/a/3", ""))
			big := strings.Repeat("0123456789", 1000) // over the wrappers' first buffer
			require.Equal(t, "200", do("PUT", "/k/big", big))
			assert.Equal(t, "200 "+big, do("GET", "/k/big", ""))

			assert.Equal(t, "200 a/1\na/2", do("GET", "/list/a/", ""))
			assert.Equal(t, "200 a/1", do("GET", "/list/a/", "", "X-Limit", "1"))
			assert.Equal(t, "200 a/2", do("GET", "/list/a/", "", "X-Limit", "1", "X-After", "a/1"), "the next page")
			assert.Equal(t, "200", do("GET", "/list/a/", "", "X-After", "a/2"), "past the last page")

			assert.Equal(t, "200 1", do("POST", "/inc/n", ""))
			assert.Equal(t, "200 2", do("POST", "/inc/n", ""))
			got := do("POST", "/inc/a/1", "")
			assert.True(t, strings.HasPrefix(got, "503 ") && strings.Contains(got, "not a decimal integer"), got)

			assert.Equal(t, "200", do("PUT", "/swap/s", "one"), "creates the key")
			assert.Equal(t, "409", do("PUT", "/swap/s", "again"), "the key is set")
			assert.Equal(t, "200", do("PUT", "/swap/s", "two", "X-Old", "one"))
			assert.Equal(t, "409", do("PUT", "/swap/s", "three", "X-Old", "one"), "it holds two")
			assert.Equal(t, "200 two", do("GET", "/k/s", ""))

			require.Equal(t, "200", do("PUT", "/k/kept", "x", "X-TTL", "3600000"))
			require.Equal(t, "200", do("PUT", "/k/brief", "x", "X-TTL", "200"))
			assert.Eventually(t, func() bool { return do("GET", "/k/brief", "") == "404" },
				20*time.Second, 50*time.Millisecond, "gone after its time-to-live")
			assert.Equal(t, "200 x", do("GET", "/k/kept", ""), "an hour to live")
		})
	}
}
