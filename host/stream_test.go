package host

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoWAT copies the request body to the response in 32 KiB chunks.
var echoWAT = guestWAT(`
  (func (export "handle_request") (result i64)
    (local $r i64)
    (loop $more
      (local.set $r (call $read_body (i32.const 0) (i32.const 1024) (i32.const 32768)))
      (call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $r)))
      (br_if $more (i64.eqz (i64.shr_u (local.get $r) (i64.const 32)))))
    (i64.const 0))`)

// randomReader yields n pseudo-random bytes.
type randomReader struct {
	rng *rand.ChaCha8
	n   int64
}

func (r *randomReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	_, _ = r.rng.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

func TestStreaming100MBThroughAGuest(t *testing.T) {
	const size = 100 << 20
	h := newGuest(t, echoWAT, Config{MaxRequestBody: -1, MaxResponseBody: -1, MaxInstances: 1})
	srv := httptest.NewServer(h)
	defer srv.Close()

	sent := sha256.New()
	body := io.TeeReader(&randomReader{rng: rand.NewChaCha8([32]byte{7}), n: size}, sent)
	req, err := http.NewRequest("POST", srv.URL, io.NopCloser(body))
	require.NoError(t, err)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	got := sha256.New()
	n, err := io.Copy(got, res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	runtime.ReadMemStats(&after)

	assert.Equal(t, int64(size), n)
	assert.True(t, bytes.Equal(sent.Sum(nil), got.Sum(nil)), "the body came back unchanged")

	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("streamed %d bytes; the process allocated %d bytes meanwhile", n, allocated)
	assert.Less(t, allocated, uint64(size/4), "the body streams: the host allocated %d bytes", allocated)
}
