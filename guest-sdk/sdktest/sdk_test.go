// Package sdktest_test builds the same handler on each guest SDK
// (testdata/sdk.*) and serves it through the host, checking that every
// SDK's helpers for headers, the query, the body and request changes do
// what their READMEs say; kv_test.go does the same for the key-value
// wrappers (testdata/kv.*).
package sdktest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// sdks builds the handler on each SDK; paths lists what each implements.
var sdks = []struct {
	name  string
	build func(testing.TB) string
	paths []string
}{
	{"c", func(t testing.TB) string {
		return testwasm.C(t, true, "guest-sdk/sdktest/testdata/sdk.c", "guest-sdk/c/wasmcluster.c")
	}, []string{"/names", "/values", "/query", "/remove", "/next"}},
	{"rust", func(t testing.TB) string { return testwasm.Rust(t, "guest-sdk/sdktest/testdata/sdk.rs") },
		[]string{"/names", "/values", "/query", "/remove", "/next"}},
	{"assemblyscript", func(t testing.TB) string {
		return testwasm.AssemblyScript(t, "guest-sdk/sdktest/testdata/sdk.ts")
	}, []string{"/names", "/values", "/text", "/remove", "/next"}},
}

// next reports what reached it.
var next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Next", r.Method+" "+r.URL.RequestURI()+" set="+r.Header.Get("X-Set")+
		" multi="+strings.Join(r.Header.Values("X-Multi"), ",")+" drop="+r.Header.Get("X-Drop"))
})

// checks holds what each path must answer.
var checks = map[string]struct {
	target string
	check  func(t *testing.T, res *http.Response, body string)
}{
	"/names": {"/names", func(t *testing.T, _ *http.Response, body string) {
		assert.ElementsMatch(t, []string{"host", "user-agent", "accept-encoding", "x-multi", "x-drop", "content-length"},
			strings.Split(strings.TrimSuffix(body, ","), ","))
	}},
	"/values": {"/values", func(t *testing.T, _ *http.Response, body string) {
		assert.Equal(t, "one,two", strings.TrimSuffix(body, ","))
	}},
	"/query": {"/query?a=1&q=caf%C3%A9+au+lait&q=second", func(t *testing.T, _ *http.Response, body string) {
		assert.Equal(t, "13:café au lait|-1", body)
	}},
	"/text": {"/text", func(t *testing.T, _ *http.Response, body string) {
		assert.Equal(t, "got héllo body", body)
	}},
	"/remove": {"/remove", func(t *testing.T, res *http.Response, _ string) {
		assert.Equal(t, []string{"a=1", "b=2"}, res.Header.Values("Set-Cookie"))
		assert.Empty(t, res.Header.Get("X-Gone"))
	}},
	"/next": {"/next", func(t *testing.T, res *http.Response, _ string) {
		assert.Equal(t, "PUT /rewritten?x=1 set=set multi=one,two,added drop=", res.Header.Get("X-Next"))
	}},
}

func TestEverySDKsHelpers(t *testing.T) {
	for _, sdk := range sdks {
		t.Run(sdk.name, func(t *testing.T) {
			h, err := host.Load(context.Background(), sdk.build(t), host.Config{Next: next})
			require.NoError(t, err)
			t.Cleanup(func() { _ = h.Close(context.Background()) })
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			for _, path := range sdk.paths {
				c := checks[path]
				req, err := http.NewRequest("POST", srv.URL+c.target, strings.NewReader("héllo body"))
				require.NoError(t, err)
				req.Header.Add("X-Multi", "one")
				req.Header.Add("X-Multi", "two")
				req.Header.Set("X-Drop", "me")
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				body, err := io.ReadAll(res.Body)
				require.NoError(t, err)
				require.NoError(t, res.Body.Close())
				c.check(t, res, string(body))
			}
		})
	}
}
