package guest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
)

// serveGuest builds the Go package at pkg as a guest and serves it through
// host on a real loopback server.
func serveGuest(t *testing.T, pkg string, cfg host.Config) *httptest.Server {
	t.Helper()
	h, err := host.Load(context.Background(), testwasm.GoReactor(t, pkg), cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		_ = h.Close(context.Background())
	})
	return srv
}

func TestSDK(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Next-Path", r.URL.Path)
		w.Header().Set("X-Next-Added", r.Header.Get("X-Added"))
		io.WriteString(w, "from next")
	})
	srv := serveGuest(t, "guest-sdk/go/internal/testguest", host.Config{
		GuestConfig: []byte("color=blue"),
		Logger:      logger,
		Next:        next,
	})
	get := func(path string, hdr ...string) (*http.Response, string) {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		res.Body.Close()
		return res, string(body)
	}

	t.Run("request fields", func(t *testing.T) {
		res, body := get("/inspect?q=find+me", "X-Multi", "a", "X-Multi", "b")
		assert.Equal(t, http.StatusCreated, res.StatusCode)
		assert.Equal(t, "GET", res.Header.Get("X-Method"))
		assert.Equal(t, "find me", res.Header.Get("X-Query"))
		assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), res.Header.Get("X-Host"))
		assert.Equal(t, "HTTP/1.1", res.Header.Get("X-Proto"))
		assert.Equal(t, []string{"a", "b"}, res.Header.Values("X-Multi"))
		assert.Contains(t, res.Header.Get("X-Remote"), "127.0.0.1:")
		assert.Equal(t, "false", res.Header.Get("X-TLS"))
		assert.Equal(t, "30s", res.Header.Get("X-Deadline-In"), "the host's default timeout")
		assert.Equal(t, "length=0", body)
	})
	t.Run("over HTTPS r.TLS is set", func(t *testing.T) {
		h, err := host.Load(context.Background(), testwasm.GoReactor(t, "guest-sdk/go/internal/testguest"),
			host.Config{Timeout: 5 * time.Second})
		require.NoError(t, err)
		t.Cleanup(func() { _ = h.Close(context.Background()) })
		tlsSrv := httptest.NewTLSServer(h)
		t.Cleanup(tlsSrv.Close)
		res, err := tlsSrv.Client().Get(tlsSrv.URL + "/inspect")
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		assert.Equal(t, "true", res.Header.Get("X-TLS"))
		assert.Equal(t, "5s", res.Header.Get("X-Deadline-In"))
	})
	t.Run("config", func(t *testing.T) {
		_, body := get("/config")
		assert.Equal(t, "color=blue", body)
	})
	t.Run("log", func(t *testing.T) {
		get("/log?hello")
		mu.Lock()
		defer mu.Unlock()
		assert.Contains(t, logs.String(), `level=WARN msg="guest says hello"`)
	})
	t.Run("trailers", func(t *testing.T) {
		res, body := get("/trailers")
		assert.Equal(t, "body", body)
		assert.Equal(t, "42", res.Trailer.Get("X-Sum"))
	})
	t.Run("next", func(t *testing.T) {
		res, body := get("/next")
		assert.Equal(t, "from next", body)
		assert.Equal(t, "/rewritten", res.Header.Get("X-Next-Path"))
		assert.Equal(t, "by guest", res.Header.Get("X-Next-Added"))
		assert.Equal(t, "was here", res.Header.Get("X-Guest"))
	})
	t.Run("content type sniffed", func(t *testing.T) {
		res, _ := get("/sniff")
		assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	})
	t.Run("not found", func(t *testing.T) {
		res, _ := get("/nothing")
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	})
	t.Run("body", func(t *testing.T) {
		res, err := http.Post(srv.URL+"/upper", "text/plain", strings.NewReader("shout"))
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, "SHOUT", string(body))
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestExchangeGuest(t *testing.T) {
	h, err := host.Load(context.Background(), testwasm.GoReactor(t, "guest-sdk/go/internal/testexchange"), host.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	srv := httptest.NewServer(h.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "next sees X-User="+r.Header.Get("X-User"))
	})))
	defer srv.Close()

	req, err := http.NewRequest("PUT", srv.URL+"/inspect?q=1", strings.NewReader("body"))
	require.NoError(t, err)
	req.Header.Set("X-Name", "wasm")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusCreated, res.StatusCode)
	assert.Equal(t, "PUT", res.Header.Get("X-Method"))
	assert.Regexp(t, `^uri=/inspect\?q=1 name=wasm missing from=127\.0\.0\.1:\d+$`, string(body))

	res, err = http.Get(srv.URL + "/next")
	require.NoError(t, err)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "next sees X-User=alice", string(body))
	assert.Equal(t, "passed", res.Header.Get("X-Guest"))
}
