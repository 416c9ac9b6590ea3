package guest

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net/http"
	"time"
)

// hostScheme and hostDeadline are get_scheme and get_deadline of
// wasmcluster's own host module (see ../ABI.md), or nil outside a Wasm
// build.
var hostScheme, hostDeadline func(buf []byte) int64

// requestCancel ends the context of the request before, if any.
var requestCancel context.CancelFunc

// withRequestInfo completes r with what the public ABI does not carry: a
// non-nil TLS for a request that came over HTTPS, as net/http gives, and a
// context with the deadline the host enforces.
func withRequestInfo(r *http.Request) *http.Request {
	if requestCancel != nil {
		requestCancel()
		requestCancel = nil
	}
	if hostScheme == nil {
		return r
	}
	var buf [8]byte
	if n := hostScheme(buf[:]); n == 5 && string(buf[:5]) == "https" {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	if n := hostDeadline(buf[:]); n == 8 {
		deadline := time.Unix(0, int64(binary.LittleEndian.Uint64(buf[:])))
		var ctx context.Context
		ctx, requestCancel = context.WithDeadline(context.Background(), deadline)
		r = r.WithContext(ctx)
	}
	return r
}
