package wasmcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestIDHeader carries a request's id: honoured when the client (or a
// proxy in front) sends one, generated otherwise, and returned in the
// response. The guest reads it as a request header.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming id; a longer one, or one with other
// than visible ASCII, is replaced.
const maxRequestIDLen = 128

// requestDurationBuckets span a guest's microseconds to a slow request's
// seconds.
var requestDurationBuckets = []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 10, 30}

// withRequestLog wraps h: every request gets its id, is counted in the
// duration histogram by status class, and, with access, logged once
// done.
func withRequestLog(h http.Handler, log *slog.Logger, access bool, reg prometheus.Registerer) http.Handler {
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wasmcluster_http_request_duration_seconds",
		Help:    "Time from a request's headers to the end of its response, by status class (2xx, 4xx, ...).",
		Buckets: requestDurationBuckets,
	}, []string{"code"})
	reg.MustRegister(durations)
	var classes [6]prometheus.Observer
	for i := range classes {
		classes[i] = durations.WithLabelValues(strconv.Itoa(i) + "xx")
	}
	ids := newRequestIDs()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = ids.next()
			r.Header[requestIDHeader] = []string{id} // the key is canonical
		}
		rec := &responseRecorder{ResponseWriter: w, id: id}
		w.Header()[requestIDHeader] = []string{id}
		aborted := true
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
				if aborted {
					status = 0 // cut before any status was sent
				}
			}
			d := time.Since(start)
			classes[min(status/100, 5)].Observe(d.Seconds())
			if access {
				level := slog.LevelInfo
				if aborted {
					level = slog.LevelWarn
				}
				log.LogAttrs(context.Background(), level, "request",
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Int64("bytes", rec.bytes),
					slog.Duration("duration", d),
					slog.String("request_id", id),
					slog.Bool("aborted", aborted))
			}
		}()
		h.ServeHTTP(rec, r)
		aborted = false
	})
}

// validRequestID reports whether an incoming id is one to keep.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// requestIDs makes ids unique across the processes of a cluster and its
// restarts: a random prefix drawn when the process starts, and a count.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return &requestIDs{prefix: hex.EncodeToString(b) + "-"}
}

func (ids *requestIDs) next() string {
	var b [64]byte
	return string(strconv.AppendUint(append(b[:0], ids.prefix...), ids.n.Add(1), 10))
}

// responseRecorder notes a response's status and size, and puts the
// request id back on a response whose headers were cleared (an error
// the host answered).
type responseRecorder struct {
	http.ResponseWriter
	id     string
	status int
	bytes  int64
}

// WriteHeader notes the status and sends the headers.
func (r *responseRecorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
		if hdr := r.Header(); hdr.Get(requestIDHeader) == "" {
			hdr.Set(requestIDHeader, r.id)
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write notes the bytes written.
func (r *responseRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines, full duplex).
func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush sends what was written so far (streaming responses).
func (r *responseRecorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}
