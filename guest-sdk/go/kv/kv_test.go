//go:build !wasip1

package kv_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
	"github.com/wasmcluster/wasmcluster/kv"
	"github.com/wasmcluster/wasmcluster/kv/sqlite"
)

// TestSDKThroughTheHost drives the SDK's calls from a guest, through the
// host functions, to a real store, with small limits.
func TestSDKThroughTheHost(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kv.db"), sqlite.Options{})
	require.NoError(t, err)
	defer store.Close()
	h, err := host.Load(ctx, testwasm.GoReactor(t, "guest-sdk/go/kv/internal/testkv"), host.Config{
		KV:       map[string]kv.Store{"default": store},
		KVLimits: kv.Limits{MaxKey: 16, MaxValue: 8, MaxList: 2},
	})
	require.NoError(t, err)
	defer h.Close(ctx)
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	for _, k := range []string{"a/1", "a/2", "a/3", "b/1"} {
		code, body := do("PUT", "/k/"+k, "v-"+k)
		require.Equal(t, 200, code, body)
	}
	code, body := do("GET", "/list?prefix=a/", "")
	assert.Equal(t, "200 a/1\na/2", itoa(code)+" "+body, "a page holds MaxList keys")
	code, body = do("GET", "/list?prefix=a/&after=a/2", "")
	assert.Equal(t, "200 a/3", itoa(code)+" "+body, "the next page")
	code, body = do("GET", "/k/a/3", "")
	assert.Equal(t, "200 v-a/3", itoa(code)+" "+body)
	code, _ = do("HEAD", "/k/nope", "")
	assert.Equal(t, 404, code)

	code, body = do("PUT", "/k/"+strings.Repeat("x", 17), "v")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "key of 17 bytes is over the limit of 16")
	code, body = do("PUT", "/k/big", "123456789")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "value of 9 bytes is over the limit of 8")
	code, body = do("POST", "/inc/a/1", "")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "not a decimal integer")
	code, body = do("POST", "/cas/n", "")
	assert.Equal(t, "200 1", itoa(code)+" "+body)
	code, body = do("POST", "/inc/n", "")
	assert.Equal(t, "200 2", itoa(code)+" "+body)
}

func itoa(n int) string { return strconv.Itoa(n) }
