// Package sdktest_test builds a handler on the C SDK and serves it through
// the host, checking each helper of wasmcluster.h.
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

func TestHelpers(t *testing.T) {
	wasm := testwasm.C(t, true, "guest-sdk/c/sdktest/testdata/sdk.c", "guest-sdk/c/wasmcluster.c")
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Next", r.Method+" "+r.URL.RequestURI()+" set="+r.Header.Get("X-Set")+
			" multi="+strings.Join(r.Header.Values("X-Multi"), ",")+" drop="+r.Header.Get("X-Drop"))
	})
	h, err := host.Load(context.Background(), wasm, host.Config{Next: next})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	do := func(path string) (*http.Response, string) {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.Header.Set("X-Drop", "me")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return res, string(body)
	}

	_, body := do("/names")
	assert.ElementsMatch(t, []string{"host", "user-agent", "accept-encoding", "x-multi", "x-drop"},
		strings.Split(strings.TrimSuffix(body, ","), ","))
	_, body = do("/values")
	assert.Equal(t, "one,two,", body)
	_, body = do("/query?a=1&q=caf%C3%A9+au+lait&q=second")
	assert.Equal(t, "13:café au lait|-1", body)
	res, _ := do("/cookies")
	assert.Equal(t, []string{"a=1", "b=2"}, res.Header.Values("Set-Cookie"))
	assert.Empty(t, res.Header.Get("X-Gone"))
	res, _ = do("/next")
	assert.Equal(t, "PUT /rewritten?x=1 set=set multi=one,two,added drop=", res.Header.Get("X-Next"))
}
