package dispatcher

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// clientIO keeps a handler's time apart from its client's: it reads the
// request body before the handler runs and holds the response back until
// the handler returns or flushes, then writes it with a deadline on every
// write. A slow client so ties up a connection and a goroutine, never
// the handler — which, for a Wasm guest, is one of a few instances.
type clientIO struct {
	h            http.Handler
	maxBody      int64 // request bodies up to this size are read ahead
	maxResponse  int64 // responses up to this size are held back
	writeTimeout time.Duration
	budget       *spoolBudget
	pool         sync.Pool // *bufferedExchange
}

func newClientIO(h http.Handler, opts WorkerOptions) *clientIO {
	c := &clientIO{
		h:            h,
		maxBody:      opts.MaxBufferedBody,
		maxResponse:  opts.MaxBufferedResponse,
		writeTimeout: opts.WriteTimeout,
		budget:       &spoolBudget{limit: opts.SpoolLimit},
	}
	c.pool.New = func() any {
		b := &bufferedExchange{c: c}
		b.body.budget, b.out.budget = c.budget, c.budget
		return b
	}
	return c
}

func (c *clientIO) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := c.pool.Get().(*bufferedExchange)
	b.w = w
	defer b.release()
	if !b.readBody(r) {
		return
	}
	c.h.ServeHTTP(b, r)
	if sent, _ := b.drain(); !sent {
		// For what net/http writes after the handler; a drain that sent
		// anything has just set it.
		b.setWriteDeadline()
	}
}

// bufferedExchange is one request's read-ahead body and held-back
// response. It is the http.ResponseWriter the handler gets.
type bufferedExchange struct {
	c       *clientIO
	w       http.ResponseWriter
	body    spool // the request body, read ahead
	out     spool // the response body held back
	through bool  // the response was flushed: write straight through
	scratch [32 << 10]byte
}

func (b *bufferedExchange) release() {
	b.body.reset()
	b.out.reset()
	b.w, b.through = nil, false
	b.c.pool.Put(b)
}

// readBody reads r's body ahead, up to maxBody, and gives r the copy. A
// larger body, or one beyond the spool budget, streams on after what was
// read. It answers and reports false if the client failed to send it in
// time (net/http's ReadTimeout bounds the whole request).
func (b *bufferedExchange) readBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody || b.c.maxBody < 0 || r.ContentLength > b.c.maxBody {
		return true
	}
	b.setWriteDeadline() // for a 100 Continue
	src := r.Body
	read := int64(0)
	for read <= b.c.maxBody {
		buf := b.scratch[:min(int64(len(b.scratch)), b.c.maxBody+1-read)]
		n, err := src.Read(buf)
		read += int64(n)
		if n > 0 {
			if m, werr := b.body.Write(buf[:n]); werr != nil {
				// No room to spool: the rest streams.
				r.Body = streamOn(&b.body, io.MultiReader(bytes.NewReader(bytes.Clone(buf[m:n])), src), src)
				return true
			}
		}
		if err == io.EOF {
			r.Body = streamOn(&b.body, nil, src)
			return true
		}
		if err != nil {
			status := http.StatusBadRequest
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				status = http.StatusRequestTimeout
			}
			b.w.Header().Set("Connection", "close")
			http.Error(b.w, http.StatusText(status), status)
			return false
		}
	}
	r.Body = streamOn(&b.body, src, src) // over maxBody: the handler decides
	return true
}

// streamOn returns the body the handler reads: what was spooled, then
// rest, if any; closing it closes the original body.
func streamOn(spooled *spool, rest io.Reader, orig io.Closer) io.ReadCloser {
	if rest == nil {
		return readCloser{spooled, orig}
	}
	return readCloser{io.MultiReader(spooled, rest), orig}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Header returns the response header.
func (b *bufferedExchange) Header() http.Header { return b.w.Header() }

// WriteHeader passes the status on: net/http sends nothing before the
// first flush of its buffer.
func (b *bufferedExchange) WriteHeader(code int) { b.w.WriteHeader(code) }

// Write holds p back while the response fits in maxResponse, and writes
// through once it does not or once it was flushed.
func (b *bufferedExchange) Write(p []byte) (int, error) {
	held := 0
	if !b.through {
		if b.out.size+int64(len(p)) <= b.c.maxResponse {
			n, err := b.out.Write(p)
			if err == nil {
				return n, nil
			}
			held = n
		}
		if _, err := b.drain(); err != nil {
			return held, err
		}
		b.through = true
	}
	n, err := b.send(p[held:])
	return held + n, err
}

// FlushError sends what is held back and flushes it to the client; from
// then on the response streams.
func (b *bufferedExchange) FlushError() error {
	if _, err := b.drain(); err != nil {
		return err
	}
	b.through = true
	b.setWriteDeadline()
	return http.NewResponseController(b.w).Flush()
}

// Flush is FlushError for those that ask for an http.Flusher.
func (b *bufferedExchange) Flush() { _ = b.FlushError() }

// Unwrap lets http.ResponseController reach the connection.
func (b *bufferedExchange) Unwrap() http.ResponseWriter { return b.w }

// drain writes what is held back, and reports whether there was any.
func (b *bufferedExchange) drain() (sent bool, err error) {
	for b.out.unread() > 0 {
		n, err := b.out.Read(b.scratch[:])
		if err == nil {
			_, err = b.send(b.scratch[:n])
		}
		if err != nil {
			b.out.reset()
			return true, err
		}
		sent = true
	}
	b.out.reset()
	return sent, nil
}

// send writes p to the client, which must take it within writeTimeout.
func (b *bufferedExchange) send(p []byte) (int, error) {
	b.setWriteDeadline()
	return b.w.Write(p)
}

// writeDeadliner is the method of net/http's response writers that
// http.ResponseController would find, called without one.
type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

func (b *bufferedExchange) setWriteDeadline() {
	t := time.Now().Add(b.c.writeTimeout)
	if d, ok := b.w.(writeDeadliner); ok {
		_ = d.SetWriteDeadline(t)
	} else {
		_ = http.NewResponseController(b.w).SetWriteDeadline(t)
	}
}
