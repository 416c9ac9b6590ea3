package dispatcher

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// IsWorker reports whether this process was started by a Primary as one of
// its workers — the moment a Node program asks cluster.isPrimary.
func IsWorker() bool { return os.Getenv(envWorkerFD) != "" }

// WorkerID returns this worker's slot number (1, 2, ...), or 0 in a
// process that is not a worker and in a standby worker until it takes
// the slot of one that died.
func WorkerID() int {
	if id := promotedTo.Load(); id > 0 {
		return int(id)
	}
	id, _ := strconv.Atoi(os.Getenv(envWorkerID))
	return id
}

// promotedTo is the slot a standby worker was told it now serves in.
var promotedTo atomic.Int64

// ErrPrimaryGone is returned by ServeWorker when the primary went away.
var ErrPrimaryGone = errors.New("the primary process went away")

// WorkerOptions tunes the HTTP server of a worker.
type WorkerOptions struct {
	// TLSConfig, when set, terminates TLS in the worker (with HTTP/2 by
	// ALPN); it must hold the certificates.
	TLSConfig *tls.Config
	// DrainTimeout bounds the drain of in-flight requests. Default 30s.
	DrainTimeout time.Duration
	// Logger gets the worker's log lines. Default slog.Default().
	Logger *slog.Logger
	// Report, when set, is called every 100 ms and once more at the end
	// of a drain; what it returns (up to 60 KiB; nil: nothing) goes to
	// the primary's Options.Reports. Workers send their metrics so.
	Report func() []byte

	// Client timeouts. A slow client holds a connection, never the
	// handler: the body is read before it runs, and the response is
	// written after it returns or flushes (see MaxBufferedBody).
	//
	// ReadHeaderTimeout bounds the reading of a request's header
	// (default 10s); ReadTimeout the reading of the whole request, body
	// included (default 60s); WriteTimeout each write to the client, which
	// must take some of its response within it (default 30s); IdleTimeout
	// the wait for the next request on a keep-alive connection (default
	// 2m).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxBufferedBody is the largest request body read before the
	// handler runs; a larger one streams to it. Default 32 MiB; negative:
	// bodies always stream.
	MaxBufferedBody int64
	// MaxBufferedResponse is the largest response held back until the
	// handler returns (or flushes); the rest of a larger one is written as
	// the handler writes it. Default 64 MiB; negative: none is held back.
	MaxBufferedResponse int64
	// SpoolLimit bounds the bytes of bodies the worker keeps at once in
	// temporary files (beyond 64 KiB each, bodies are kept there, unlinked);
	// bodies that do not fit stream. Default 1 GiB.
	SpoolLimit int64
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.ReadHeaderTimeout = orDuration(o.ReadHeaderTimeout, 10*time.Second)
	o.ReadTimeout = orDuration(o.ReadTimeout, time.Minute)
	o.WriteTimeout = orDuration(o.WriteTimeout, 30*time.Second)
	o.IdleTimeout = orDuration(o.IdleTimeout, 2*time.Minute)
	if o.MaxBufferedBody == 0 {
		o.MaxBufferedBody = 32 << 20
	}
	if o.MaxBufferedResponse == 0 {
		o.MaxBufferedResponse = 64 << 20
	}
	if o.SpoolLimit <= 0 {
		o.SpoolLimit = 1 << 30
	}
	return o
}

func orDuration(d, fallback time.Duration) time.Duration {
	if d <= 0 {
		return fallback
	}
	return d
}

// ServeWorker serves h on the connections the primary hands this worker,
// until the primary asks it to drain (or it gets SIGTERM): then it stops
// taking connections, finishes the requests in flight, closes idle
// keep-alive connections and returns nil. It returns ErrPrimaryGone if the
// primary dies. Call it once the handler is ready: that is when the
// primary starts handing over connections.
func ServeWorker(ctx context.Context, h http.Handler, opts WorkerOptions) error {
	opts = opts.withDefaults()
	ctrl, err := controlSocket()
	if err != nil {
		return err
	}
	defer ctrl.Close()
	// The terminal's Ctrl-C reaches the whole process group; the primary
	// decides when workers drain.
	signal.Ignore(syscall.SIGINT)
	sigterm := make(chan os.Signal, 1)
	signal.Notify(sigterm, syscall.SIGTERM)
	defer signal.Stop(sigterm)

	addr := listenAddr()
	if addr == nil {
		addr = ctrl.LocalAddr()
	}
	w := &workerServer{ctrl: ctrl, ln: newListener(addr), live: os.Getenv(envLiveCounts) == "1", log: opts.Logger}
	w.ln.onClose = w.connClosed
	w.ln.checkFraming = opts.TLSConfig == nil // under TLS it reads ciphertext
	if opts.MaxBufferedBody >= 0 || opts.MaxBufferedResponse >= 0 {
		h = newClientIO(h, opts)
	}
	srv := &http.Server{
		Handler:           w.count(h),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		IdleTimeout:       opts.IdleTimeout,
		TLSConfig:         opts.TLSConfig,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() {
		if opts.TLSConfig != nil {
			serveErr <- srv.ServeTLS(w.ln, "", "")
		} else {
			serveErr <- srv.Serve(w.ln)
		}
	}()
	drain := make(chan struct{})
	gone := make(chan struct{})
	go w.readPrimary(drain, gone)
	stopReports := w.reportServed(opts.Report)
	defer stopReports()
	if _, err := ctrl.Write(encode(msgReady, 0)); err != nil {
		return ErrPrimaryGone
	}

	select {
	case <-drain:
	case <-sigterm:
	case <-ctx.Done():
	case <-gone:
		_ = srv.Close()
		return ErrPrimaryGone
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	return w.drain(srv, opts.DrainTimeout)
}

// drainGrace is how long a drain lets keep-alive connections carry one
// more request, answered with Connection: close, before it closes those
// still idle. A client that keeps its connection busy so learns of the
// drain from a response, rather than from a connection closed just as
// it sent a request.
const drainGrace = time.Second

// drain serves every connection already handed over to its end, then
// closes. It does not use http.Server.Shutdown, which drops a request that
// arrives on a connection after the shutdown began — and a connection the
// primary just handed over may not have sent its request yet. Instead it
// stops taking connections, closes each connection after its next
// response, then, after drainGrace, turns keep-alive off (idle connections
// close, busy ones close after their response) and waits for the last one.
func (w *workerServer) drain(srv *http.Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	w.ln.waitQueued(timeout)
	_ = w.ln.Close()
	w.draining.Store(true)
	idleDeadline := time.Now().Add(min(drainGrace, timeout))
	keepAlive := true
	for w.open.Load() > 0 {
		now := time.Now()
		if keepAlive && now.After(idleDeadline) {
			srv.SetKeepAlivesEnabled(false)
			keepAlive = false
		}
		if now.After(deadline) {
			_ = srv.Close()
			return fmt.Errorf("drain: %d connections still open after %s", w.open.Load(), timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return srv.Close()
}

// listenAddr returns the address the primary listens on, or nil if it
// did not say.
func listenAddr() net.Addr {
	network, addr, _ := strings.Cut(os.Getenv(envListenAddr), " ")
	switch network {
	case "tcp", "tcp4", "tcp6":
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			return net.TCPAddrFromAddrPort(ap)
		}
	case "unix":
		return &net.UnixAddr{Name: addr, Net: network}
	}
	return nil
}

// controlSocket opens the socket the primary passed this worker.
func controlSocket() (*net.UnixConn, error) {
	fd, err := strconv.Atoi(os.Getenv(envWorkerFD))
	if err != nil {
		return nil, errors.New("not started as a worker of a primary")
	}
	f := os.NewFile(uintptr(fd), "control")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("control socket is a %T", c)
	}
	return uc, nil
}

// workerServer is a worker's side of the cluster: the control socket to
// the primary, the listener it feeds, and the counts reported back.
type workerServer struct {
	ctrl     *net.UnixConn
	ln       *listener
	served   atomic.Uint64
	closed   atomic.Int64 // connections closed and not yet reported
	open     atomic.Int64 // connections received and not yet closed
	draining atomic.Bool  // every response closes its connection
	live     bool         // report each closed connection within closedReportDelay
	log      *slog.Logger
	lost     logLimiter // connections lost for want of fds; readPrimary's only
}

// readPrimary takes connections from the primary into the listener until
// it says drain (closing drain) or goes away (closing gone).
func (w *workerServer) readPrimary(drain, gone chan struct{}) {
	r := newMsgReader()
	for {
		msg, err := r.read(w.ctrl)
		if err != nil {
			close(gone)
			return
		}
		switch msg.typ {
		case msgConns:
			for _, h := range msg.conns {
				w.open.Add(1)
				if !w.ln.push(h) {
					w.open.Add(-1)
				}
			}
			if msg.lost > 0 {
				w.lostConns(msg.lost)
			}
		case msgDrain:
			if drain != nil {
				close(drain)
				drain = nil
			}
		case msgSlot:
			promotedTo.Store(int64(msg.n))
		}
	}
}

// closedReportDelay gathers the connections that close within it into one
// report to a primary that balances by live connections. Otherwise they
// go with the served count, every 100 ms: a report every 2 ms costs a
// few percent of the machine under a stream of short connections.
const closedReportDelay = 2 * time.Millisecond

// connClosed counts a closed connection and, with the first one since the
// last report, schedules the next report if the primary wants it soon.
func (w *workerServer) connClosed() {
	w.open.Add(-1)
	if w.closed.Add(1) == 1 && w.live {
		time.AfterFunc(closedReportDelay, w.reportClosed)
	}
}

// lostConns accounts for connections the kernel closed on the way in, for
// want of fds: the primary counts them closed, and the log says so once
// per interval.
func (w *workerServer) lostConns(n int) {
	if w.closed.Add(int64(n)) == int64(n) && w.live {
		time.AfterFunc(closedReportDelay, w.reportClosed)
	}
	if count := w.lost.add(time.Now(), n); count > 0 {
		w.log.Error("out of file descriptors: connections dropped on arrival", "dropped", count, "interval", fdLogInterval.String())
	}
}

// reportClosed tells the primary how many connections closed since the
// last report.
func (w *workerServer) reportClosed() {
	if n := w.closed.Swap(0); n > 0 {
		_, _ = w.ctrl.Write(encode(msgClosed, uint32(n)))
	}
}

// count wraps h to count the requests served, and to close each
// connection after its response once draining, and after a chunked
// request over TLS.
func (w *workerServer) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.draining.Load() || r.TLS != nil && r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
			// Draining (HTTP/2: GOAWAY); or a chunked request over TLS,
			// whose header framing could not check (a Content-Length
			// beside it may be all an intermediary read).
			rw.Header().Set("Connection", "close")
		}
		h.ServeHTTP(rw, r)
		w.served.Add(1)
	})
}

// reportServed sends the request count, the connections closed since
// the last report and what extra returns (if set) to the primary every
// 100 ms, and once more when stopped.
func (w *workerServer) reportServed(extra func() []byte) (stop func()) {
	var reported uint64
	report := func() {
		if n := w.served.Load(); n > reported {
			_, _ = w.ctrl.Write(encode(msgServed, uint32(n-reported)))
			reported = n
		}
		if extra != nil {
			if data := extra(); len(data) > 0 && len(data) <= maxReportSize {
				_, _ = w.ctrl.Write(append(encode(msgReport, uint32(len(data))), data...))
			}
		}
	}
	t := time.NewTicker(100 * time.Millisecond)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-t.C:
				report()
				w.reportClosed()
			case <-done:
				report()
				w.reportClosed()
				return
			}
		}
	}()
	return func() {
		t.Stop()
		close(done)
		<-finished
	}
}

// listener is a net.Listener whose Accept yields connections received from
// the primary, so a worker serves with a plain http.Server.
type listener struct {
	addr    net.Addr
	local   net.Addr // every connection's local address, if known
	conns   chan net.Conn
	done    chan struct{}
	once    sync.Once
	onClose func() // called once for every connection closed
	// checkFraming makes each connection refuse requests whose framing is
	// ambiguous (see framing).
	checkFraming bool
}

// newListener returns an empty listener reporting addr as its address.
func newListener(addr net.Addr) *listener {
	l := &listener{addr: addr, conns: make(chan net.Conn, 1024), done: make(chan struct{})}
	if a, ok := addr.(*net.TCPAddr); ok && !a.IP.IsUnspecified() {
		l.local = a // a socket listening on one IP accepts on it alone
	}
	return l
}

// push turns a received connection into a net.Conn and queues it for
// Accept, or closes it if the listener is closed. It returns false if the
// connection's addresses had to be looked up and the client was gone
// already.
func (l *listener) push(h handoff) bool {
	c, err := newConn(h.fd, l.local, h.peer.addr(), l.onClose)
	if err != nil {
		return false
	}
	c.check = l.checkFraming
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
	return true
}

// Accept returns the next connection handed to this worker.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the address the listener was made with.
func (l *listener) Addr() net.Addr { return l.addr }

// waitQueued waits, up to timeout, until every queued connection was
// accepted, so that a drain serves them rather than dropping them.
func (l *listener) waitQueued(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for len(l.conns) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
