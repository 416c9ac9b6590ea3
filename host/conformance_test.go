package host

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmcluster/wasmcluster/internal/logbuf"
	"github.com/wasmcluster/wasmcluster/internal/testwasm"
	"github.com/wasmcluster/wasmcluster/internal/transports"
)

// get sends a GET and returns the response with its body read.
func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return res, string(body)
}

func TestStartInitializesAHandlerModule(t *testing.T) {
	// TinyGo's default build: _start runs main, which enables features
	// and sets up the handler, and returns.
	h := newGuest(t, guestWAT(`
		(global $ready (mut i32) (i32.const 0))
		(func (export "_start")
			(drop (call $enable_features (i32.const 2)))
			(global.set $ready (i32.const 1)))
		(func (export "handle_request") (result i64)
			(if (i32.eqz (global.get $ready)) (then (call $set_status_code (i32.const 500))))
			(call $write_body (i32.const 1) (i32.const 0) (i32.const 5))
			(call $set_header_value (i32.const 1) (i32.const 16) (i32.const 7) (i32.const 32) (i32.const 1))
			(i64.const 0))`, "0 ready", "16 X-Later", "32 1"), Config{})
	res, body := get(t, http.DefaultClient, newServer(t, h))
	assert.Equal(t, http.StatusOK, res.StatusCode, "_start ran")
	assert.Equal(t, "ready", body)
	assert.Equal(t, "1", res.Header.Get("X-Later"), "buffer response, enabled in _start, holds every request")
}

// newServer serves h over HTTP/1.1 until the test ends and returns its URL.
func newServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestGuestStatusAndHeadersBeforeNextStand(t *testing.T) {
	// handle_request sets 201 and X-Guest, with or without buffer
	// response, then passes on.
	guest := func(features string) string {
		return guestWAT(`
		(func (export "handle_request") (result i64)
			(drop (call $enable_features (i32.const `+features+`)))
			(call $set_status_code (i32.const 201))
			(call $set_header_value (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 1))
			(i64.const 1))`, "0 X-Guest", "16 g")
	}
	bodyOnly := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Next", "n")
		_, _ = io.WriteString(w, "from next")
	})
	withStatus := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "from next")
	})
	for _, features := range []string{"0", "2"} {
		t.Run("features "+features, func(t *testing.T) {
			h := newGuest(t, guest(features), Config{})
			transports.Each(t, h.Wrap(bodyOnly), func(t *testing.T, c *http.Client, url string) {
				res, body := get(t, c, url)
				assert.Equal(t, http.StatusCreated, res.StatusCode, "next set no status: the guest's stands")
				assert.Equal(t, "g", res.Header.Get("X-Guest"))
				assert.Equal(t, "n", res.Header.Get("X-Next"))
				assert.Equal(t, "from next", body)
			})
			transports.Each(t, h.Wrap(withStatus), func(t *testing.T, c *http.Client, url string) {
				res, _ := get(t, c, url)
				assert.Equal(t, http.StatusAccepted, res.StatusCode, "next's own status wins")
				assert.Equal(t, "g", res.Header.Get("X-Guest"))
			})
		})
	}
}

func TestTrailersEndTheResponse(t *testing.T) {
	// The guest enables trailers (and maybe buffer response), sets one
	// trailer and answers, or passes on to a next that writes nothing.
	guest := func(features, next, trailers string) string {
		return guestWAT(`
		(func (export "handle_request") (result i64)
			(drop (call $enable_features (i32.const `+features+`)))
			(if (i32.const `+trailers+`) (then
				(call $set_header_value (i32.const 3) (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 3))))
			(if (i64.eqz (i64.const `+next+`)) (then (call $write_body (i32.const 1) (i32.const 32) (i32.const 4))))
			(i64.const `+next+`))`, "0 X-Checksum", "16 abc", "32 body")
	}
	silent := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct{ name, features, next, body string }{
		{"answered", "4", "0", "body"},
		{"answered, buffered", "6", "0", "body"},
		{"next wrote nothing", "4", "1", ""},
		{"next wrote nothing, buffered", "6", "1", ""},
	} {
		for _, trailers := range []string{"1", "0"} {
			t.Run(tc.name+", trailers "+trailers, func(t *testing.T) {
				h := newGuest(t, guest(tc.features, tc.next, trailers), Config{})
				transports.Each(t, h.Wrap(silent), func(t *testing.T, c *http.Client, url string) {
					res, body := get(t, c, url)
					assert.Equal(t, tc.body, body)
					if trailers == "1" {
						assert.Equal(t, "abc", res.Trailer.Get("X-Checksum"))
					} else {
						assert.Empty(t, res.Trailer.Get("X-Checksum"))
					}
				})
			})
		}
	}
}

func TestBufferedGuestWriteHoldsTheHeaders(t *testing.T) {
	h := newGuest(t, guestWAT(`
		(func (export "handle_request") (result i64)
			(drop (call $enable_features (i32.const 2)))
			(call $write_body (i32.const 1) (i32.const 32) (i32.const 4))
			(call $set_status_code (i32.const 203))
			(call $set_header_value (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 1))
			(i64.const 0))`, "0 X-Later", "16 1", "32 body"), Config{})
	transports.Each(t, h, func(t *testing.T, c *http.Client, url string) {
		res, body := get(t, c, url)
		assert.Equal(t, 203, res.StatusCode)
		assert.Equal(t, "1", res.Header.Get("X-Later"))
		assert.Equal(t, "body", body)
	})
}

func TestHeaderNamesAndNextsTrailers(t *testing.T) {
	// handle_response answers with the response's header names, "|", and
	// the names of its trailers. Reading trailers needs no feature, as on
	// other hosts.
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Declared")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Declared", "d")
		w.Header().Set(http.TrailerPrefix+"grpc-status", "0")
	})
	for _, features := range []string{"6", "2"} {
		t.Run("features "+features, func(t *testing.T) {
			h := newGuest(t, guestWAT(`
		(func (export "handle_request") (result i64)
			(drop (call $enable_features (i32.const `+features+`)))
			(i64.const 0x100000001))
		(func (export "handle_response") (param i32 i32)
			(call $write_body (i32.const 1) (i32.const 1024)
				(i32.wrap_i64 (call $get_header_names (i32.const 1) (i32.const 1024) (i32.const 4096))))
			(call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
			(call $write_body (i32.const 1) (i32.const 1024)
				(i32.wrap_i64 (call $get_header_names (i32.const 3) (i32.const 1024) (i32.const 4096)))))`,
				"0 |"), Config{})
			transports.Each(t, h.Wrap(next), func(t *testing.T, c *http.Client, url string) {
				res, body := get(t, c, url)
				assert.Equal(t, "content-type\x00trailer\x00|grpc-status\x00x-declared\x00", body, "sorted, no Trailer: keys")
				assert.Equal(t, "0", res.Trailer.Get("Grpc-Status"))
				assert.Equal(t, "d", res.Trailer.Get("X-Declared"))
			})
		})
	}
}

func TestReadBodyFillsTheBuffer(t *testing.T) {
	// One read_body call with room for the whole body; X-Eof says whether
	// it came with EOF.
	h := newGuest(t, guestWAT(`
		(func (export "handle_request") (result i64)
			(local $r i64)
			(local.set $r (call $read_body (i32.const 0) (i32.const 1024) (i32.const 4096)))
			(if (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0))
				(then (call $set_header_value (i32.const 1) (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 1))))
			(call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $r)))
			(i64.const 0))`, "0 X-Eof", "16 1"), Config{})
	transports.Each(t, h, func(t *testing.T, c *http.Client, url string) {
		// A chunked body (no length) that arrives in three pieces.
		pr, pw := io.Pipe()
		go func() {
			for _, piece := range []string{"one ", "two ", "three"} {
				_, _ = io.WriteString(pw, piece)
				time.Sleep(30 * time.Millisecond)
			}
			_ = pw.Close()
		}()
		res, err := c.Post(url, "text/plain", pr)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		assert.Equal(t, "one two three", string(body))
		assert.Equal(t, "1", res.Header.Get("X-Eof"))
	})
}

func TestRequestChangesAfterNextTrap(t *testing.T) {
	// handle_response calls one function that changes the request.
	for name, call := range map[string]string{
		"set_header_value": `(call $set_header_value (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 1))`,
		"add_header_value": `(call $add_header_value (i32.const 0) (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 1))`,
		"remove_header":    `(call $remove_header (i32.const 0) (i32.const 0) (i32.const 3))`,
		"set_method":       `(call $set_method (i32.const 32) (i32.const 4))`,
		"set_uri":          `(call $set_uri (i32.const 48) (i32.const 2))`,
	} {
		t.Run(name, func(t *testing.T) {
			var logs logbuf.Buffer
			h := newGuest(t, guestWAT(`
				(func (export "handle_request") (result i64)
					(drop (call $enable_features (i32.const 2)))
					(i64.const 0x100000001))
				(func (export "handle_response") (param i32 i32) `+call+`)`,
				"0 X-A", "16 1", "32 POST", "48 /x"), Config{Logger: logs.Logger(), Next: echoNext})
			rec := serve(h, httptest.NewRequest("GET", "/", nil))
			assert.Equal(t, http.StatusInternalServerError, rec.Code)
			assert.Contains(t, logs.String(), "the request cannot change after the next handler ran")
		})
	}
}

func TestGuestSeesTheURLTheAppHandedOn(t *testing.T) {
	h := newGuest(t, helloWAT, Config{})
	rec := serve(http.StripPrefix("/p", h), httptest.NewRequest("GET", "/p/x?q=1", nil))
	assert.Equal(t, "Hello from wasmcluster: /x?q=1", rec.Body.String())

	cgi := cgiGuest(t, Config{})
	for _, tc := range []struct{ path, script, strip string }{
		{"/p/env", "/p", "/p"},
		{"/env", "", ""},
	} {
		rec := serve(http.StripPrefix(tc.strip, cgi), httptest.NewRequest("GET", tc.path, nil))
		assert.Equal(t, tc.script, rec.Header().Get("X-Script-Name"), tc.path)
		assert.Equal(t, "/env", rec.Header().Get("X-Path-Info"), tc.path)
	}
}

func TestGoCommandHandlerIsRefusedWithHowToBuildIt(t *testing.T) {
	_, err := Load(context.Background(), testwasm.GoCommand(t, "guest-sdk/go/internal/testguest"), Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "build a Go handler with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")
	assert.NotContains(t, err.Error(), "\n")
}

func TestTrailersSetAfterTheBodyGoOut(t *testing.T) {
	h := newGuest(t, guestWAT(`
		(func (export "handle_request") (result i64)
			(drop (call $enable_features (i32.const 4)))
			(call $write_body (i32.const 1) (i32.const 32) (i32.const 4))
			(call $set_header_value (i32.const 3) (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 3))
			(i64.const 0))`, "0 X-Checksum", "16 abc", "32 body"), Config{})
	transports.Each(t, h, func(t *testing.T, c *http.Client, url string) {
		res, body := get(t, c, url)
		assert.Equal(t, "body", body)
		assert.Equal(t, "abc", res.Trailer.Get("X-Checksum"))
	})
}

func TestFlushFailsWhileTheResponseIsBuffered(t *testing.T) {
	// flush's result, as the status: 300 + result (-1: buffered).
	h := newGuest(t, `(module
  (import "http_handler" "enable_features" (func $enable_features (param i32) (result i32)))
  (import "http_handler" "set_status_code" (func $set_status_code (param i32)))
  (import "wasmcluster" "flush" (func $flush (result i64)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (drop (call $enable_features (i32.const 2)))
    (call $set_status_code (i32.add (i32.const 300) (i32.wrap_i64 (call $flush))))
    (i64.const 0)))`, Config{})
	res, _ := get(t, http.DefaultClient, newServer(t, h))
	assert.Equal(t, 299, res.StatusCode, "flush returned -1 (failed) with buffer response on")
}
