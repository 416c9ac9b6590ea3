package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Environment variables that mark a worker process.
const (
	envWorkerFD = "WASMCLUSTER_WORKER_FD" // the control socket's fd number
	envWorkerID = "WASMCLUSTER_WORKER_ID"
	// The address the primary listens on, as "NETWORK ADDRESS": the
	// worker's listener reports it, and a TCP address with a definite IP
	// is every connection's local address.
	envListenAddr = "WASMCLUSTER_LISTEN_ADDR"
	// Set to 1 when the balancer reads live counts: workers then report
	// closed connections at once.
	envLiveCounts = "WASMCLUSTER_LIVE_COUNTS"
)

// Options tunes a Primary. Zero fields take the defaults in their comments.
type Options struct {
	// Workers is the number of worker processes. Default runtime.NumCPU().
	Workers int
	// Balancer picks the worker for each connection. Default RoundRobin().
	Balancer Balancer
	// DrainTimeout bounds a drain: workers still busy then are killed.
	// Default 30s.
	DrainTimeout time.Duration
	// ReadyTimeout bounds how long a new worker may take to start serving.
	// Default 30s.
	ReadyTimeout time.Duration
	// Logger gets the primary's log lines. Default slog.Default().
	Logger *slog.Logger
	// Command returns the command that starts one worker. Default: this
	// program again (os.Executable) with the same arguments and
	// environment, its output going to the primary's.
	Command func() *exec.Cmd
	// Reports, when set, gets what workers send with WorkerOptions.Report.
	Reports ReportSink
	// Env holds extra KEY=VALUE variables for every worker.
	//
	// Workers run with GOMAXPROCS=1 — one single-threaded process per
	// core, as in Node's cluster, which spares them scheduling across
	// threads — unless Env or the primary's environment sets GOMAXPROCS.
	Env []string

	// ParkTimeout bounds how long the primary holds a connection no
	// worker can take (every queue full, or every worker stalled): then
	// it writes BusyReply to it and closes it. Default 5s.
	ParkTimeout time.Duration
	// BusyReply is what a connection parked too long gets before it is
	// closed. Default (nil): an HTTP/1.1 503 with Retry-After. A non-nil
	// empty reply closes without a word, as a TLS listener needs.
	BusyReply []byte
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.Balancer == nil {
		o.Balancer = RoundRobin()
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Command == nil {
		o.Command = selfCommand
	}
	if o.ParkTimeout <= 0 {
		o.ParkTimeout = 5 * time.Second
	}
	if o.BusyReply == nil {
		o.BusyReply = defaultBusyReply
	}
	return o
}

func selfCommand() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd
}

// ReportSink receives the reports of workers (WorkerOptions.Report), to
// aggregate them in the primary. Its methods are called from one
// goroutine per worker process.
type ReportSink interface {
	// Report passes the latest report of the worker process pid, which
	// serves in slot (0 for a standby worker).
	Report(slot, pid int, data []byte)
	// Exited says the worker process pid sends no more reports; slot is
	// the last it served in.
	Exited(slot, pid int)
}

// Roles of a worker in WorkerStats.
const (
	RoleWorker  = "worker"  // takes connections in its slot
	RoleStandby = "standby" // started and serving, but idle until a worker dies and it takes that one's slot
)

// WorkerStats are the primary's figures for one worker.
type WorkerStats struct {
	ID         int    `json:"id"`         // the worker's slot, 1 to Options.Workers; 0 for the standby
	Role       string `json:"role"`       // RoleWorker or RoleStandby
	PID        int    `json:"pid"`        // its current process
	Generation int    `json:"generation"` // 1, and one more with each reload
	Ready      bool   `json:"ready"`      // taking connections
	Handed     uint64 `json:"handed"`     // connections handed to this worker slot
	Active     int64  `json:"active"`     // live connections of its current process (closes reported every 100 ms; 2 ms under least-conn)
	Requests   uint64 `json:"requests"`   // requests served, as the workers report them every 100 ms
	Restarts   int64  `json:"restarts"`   // processes started after the first
}

// Primary owns the listening socket: it runs the workers and hands each
// accepted connection to one of them.
type Primary struct {
	opts Options
	log  *slog.Logger
	addr net.Addr // where Serve listens

	mu          sync.Mutex
	slots       []*slot   // the current generation
	ready       []*worker // workers of slots that take connections
	active      []int64   // scratch for the balancer
	parked      []handoff // connections no worker could take yet
	generation  int
	draining    bool
	stopping    atomic.Bool          // Serve's context is done: accepting ends
	serving     chan struct{}        // closed once the first generation serves
	standby     *worker              // a ready spare of the current generation, or nil
	standbySlot *slot                // the current generation's standby slot
	all         map[*worker]struct{} // every live worker process, any generation

	fdLog   logLimiter // the accept goroutine's only
	lostLog logLimiter // connections lost taking them back; under mu
}

// slot is one worker position of a generation; a crashed worker's
// replacement takes its slot.
type slot struct {
	id, generation int
	env            []string // the generation's own environment, after Options.Env
	handed         atomic.Uint64
	requests       atomic.Uint64
	restarts       atomic.Int64
	backoff        time.Duration // guarded by Primary.mu
	failedStarts   int           // restarts that failed in a row; guarded by Primary.mu
	current        atomic.Pointer[worker]
}

// worker is one worker process.
type worker struct {
	slot    atomic.Pointer[slot] // changes when a standby takes a slot
	cmd     *exec.Cmd
	ctrl    *net.UnixConn
	inbox   *os.File // the worker's end of ctrl: what it never read is read back
	started time.Time
	ready   chan struct{} // closed when the worker serves
	exited  chan struct{} // closed when the process is gone
	active  atomic.Int64
	retired atomic.Bool // being drained on purpose: not to be replaced
	isReady atomic.Bool
	stalled atomic.Bool // left connections unread for stallTimeout: handed none

	sentBytes atomic.Uint64 // bytes of msgConns sent
	health    stall         // the watch goroutine's only

	batch []handoff // scratch for dispatch, guarded by Primary.mu
}

// NewPrimary returns a Primary; Serve starts it.
func NewPrimary(opts Options) *Primary {
	opts = opts.withDefaults()
	return &Primary{opts: opts, log: opts.Logger, all: make(map[*worker]struct{}), serving: make(chan struct{})}
}

// Serving is closed once Serve's first generation of workers serves.
func (p *Primary) Serving() <-chan struct{} { return p.serving }

// Ready reports whether the primary takes connections for its workers:
// it serves, at least one worker is ready, and it is not draining.
func (p *Primary) Ready() bool {
	if p.stopping.Load() || !isClosed(p.serving) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.draining && len(p.ready) > 0
}

// Serve starts the workers, waits until they all serve, and hands them the
// connections ln accepts until ctx is done; then it drains and returns
// nil. It fails if the workers cannot start.
func (p *Primary) Serve(ctx context.Context, ln net.Listener) error {
	acc, err := newAcceptor(ln)
	if err != nil {
		return err
	}
	p.addr = ln.Addr()
	acc.refuse = p.shed
	slots, err := p.startGeneration(ctx, nil)
	if err != nil {
		acc.release()
		return err
	}
	p.mu.Lock()
	p.slots = slots
	p.rebuildReady()
	p.mu.Unlock()
	p.startStandby(slots[0])
	close(p.serving)
	p.log.Info("serving", "addr", ln.Addr().String(), "workers", len(slots), "standby", 1)

	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		p.watch(stopWatch)
	}()
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		p.acceptLoop(acc)
	}()
	<-ctx.Done()
	p.stopping.Store(true)
	acc.close()
	<-acceptDone
	_ = ln.Close()
	p.drain()
	close(stopWatch)
	<-watchDone
	p.mu.Lock()
	parked := p.takeParked()
	p.mu.Unlock()
	p.refuse(parked)
	return nil
}

// Reload starts a new generation of workers, switches hand-off to it once
// every new worker serves, and drains the old one. If a new worker fails
// to start, the old generation keeps serving and Reload returns why.
//
// env, if any, is added to the environment of the new generation's
// workers, and of their replacements, after Options.Env: for example, to
// say which version of what they serve to load.
func (p *Primary) Reload(ctx context.Context, env ...string) error {
	slots, err := p.startGeneration(ctx, env)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.draining {
		p.mu.Unlock()
		p.retire(slotWorkers(slots))
		return errors.New("reload: shutting down")
	}
	old := slotWorkers(p.slots)
	if p.standbySlot != nil {
		old = append(old, slotWorkers([]*slot{p.standbySlot})...)
	}
	p.standby = nil
	p.slots = slots
	p.rebuildReady()
	p.mu.Unlock()
	p.startStandby(slots[0])
	p.log.Info("reloaded: new workers serve, old ones drain", "generation", slots[0].generation)
	go func() {
		p.retire(old)
		p.waitExit(old)
	}()
	return nil
}

// Workers returns the figures of the current generation's workers, in
// slot order, and then of its standby worker.
func (p *Primary) Workers() []WorkerStats {
	p.mu.Lock()
	slots := p.slots
	if p.standbySlot != nil {
		slots = append(slots[:len(slots):len(slots)], p.standbySlot)
	}
	p.mu.Unlock()
	stats := make([]WorkerStats, 0, len(slots))
	for _, s := range slots {
		role := RoleWorker
		if s.id == standbyID {
			role = RoleStandby
		}
		st := WorkerStats{
			ID:         s.id,
			Role:       role,
			Generation: s.generation,
			Handed:     s.handed.Load(),
			Requests:   s.requests.Load(),
			Restarts:   s.restarts.Load(),
		}
		if w := s.current.Load(); w != nil {
			st.PID = w.cmd.Process.Pid
			st.Active = w.active.Load()
			st.Ready = w.isReady.Load()
		}
		stats = append(stats, st)
	}
	return stats
}

// startStandby starts the standby worker of the generation of like.
func (p *Primary) startStandby(like *slot) {
	s := &slot{id: standbyID, generation: like.generation, env: like.env}
	p.mu.Lock()
	p.standbySlot = s
	p.mu.Unlock()
	p.restart(s)
}

// startGeneration starts Options.Workers workers and waits until they all
// serve. If one fails, the others are stopped and the error says which.
func (p *Primary) startGeneration(ctx context.Context, env []string) ([]*slot, error) {
	p.mu.Lock()
	p.generation++
	gen := p.generation
	p.mu.Unlock()

	slots := make([]*slot, p.opts.Workers)
	var err error
	for i := range slots {
		slots[i] = &slot{id: i + 1, generation: gen, env: env}
		if err = p.start(slots[i]); err != nil {
			break
		}
	}
	if err == nil {
		err = p.waitReady(ctx, slots)
	}
	if err != nil {
		workers := slotWorkers(slots)
		p.retire(workers)
		for _, w := range workers {
			_ = w.cmd.Process.Kill()
		}
		p.waitExit(workers)
		return nil, err
	}
	return slots, nil
}

func (p *Primary) waitReady(ctx context.Context, slots []*slot) error {
	timeout := time.NewTimer(p.opts.ReadyTimeout)
	defer timeout.Stop()
	for _, s := range slots {
		w := s.current.Load()
		select {
		case <-w.ready:
		case <-w.exited:
			return fmt.Errorf("worker %d (pid %d) exited before it was ready: %s",
				s.id, w.cmd.Process.Pid, w.cmd.ProcessState)
		case <-timeout.C:
			return fmt.Errorf("worker %d (pid %d) was not ready within %s", s.id, w.cmd.Process.Pid, p.opts.ReadyTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// start runs a worker process for s.
func (p *Primary) start(s *slot) error {
	ctrl, child, err := socketpair()
	if err != nil {
		return err
	}
	cmd := p.opts.Command()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, child)
	if !slices.ContainsFunc(cmd.Env, isGOMAXPROCS) && !slices.ContainsFunc(p.opts.Env, isGOMAXPROCS) {
		cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	}
	cmd.Env = append(cmd.Env, p.opts.Env...)
	cmd.Env = append(cmd.Env, s.env...)
	cmd.Env = append(cmd.Env,
		envWorkerFD+"="+strconv.Itoa(2+len(cmd.ExtraFiles)),
		envWorkerID+"="+strconv.Itoa(s.id),
		envListenAddr+"="+p.addr.Network()+" "+p.addr.String())
	if _, blind := p.opts.Balancer.(countBlind); !blind {
		cmd.Env = append(cmd.Env, envLiveCounts+"=1")
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL // and EOF on the control socket
	if err := cmd.Start(); err != nil {
		ctrl.Close()
		child.Close()
		return fmt.Errorf("start worker %d: %w", s.id, err)
	}
	w := &worker{
		cmd:     cmd,
		ctrl:    ctrl,
		inbox:   child,
		started: time.Now(),
		ready:   make(chan struct{}),
		exited:  make(chan struct{}),
	}
	w.slot.Store(s)
	s.current.Store(w)
	p.mu.Lock()
	p.all[w] = struct{}{}
	p.mu.Unlock()
	p.log.Info("worker started", "id", s.id, "pid", cmd.Process.Pid, "generation", s.generation)
	go p.readWorker(w)
	go p.waitWorker(w)
	return nil
}

func isGOMAXPROCS(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") }

// readWorker handles what a worker reports until its control socket closes.
func (p *Primary) readWorker(w *worker) {
	r := newMsgReader()
	for {
		msg, err := r.read(w.ctrl)
		if err != nil {
			return
		}
		closeConns(msg.conns) // workers send none
		switch msg.typ {
		case msgReady:
			w.isReady.Store(true)
			close(w.ready)
			p.mu.Lock()
			if s := w.slot.Load(); s.id == standbyID && p.isCurrent(s) && !w.retired.Load() {
				p.standby = w
			}
			p.rebuildReady()
			parked := p.takeParked()
			p.mu.Unlock()
			p.dispatch(parked)
		case msgClosed:
			w.active.Add(-int64(msg.n))
		case msgServed:
			w.slot.Load().requests.Add(uint64(msg.n))
		case msgReport:
			if p.opts.Reports != nil {
				p.opts.Reports.Report(w.slot.Load().id, w.cmd.Process.Pid, msg.data)
			}
		}
	}
}

// waitWorker reaps a worker, hands the connections it never took to the
// others, and replaces it unless it was retired on purpose: at once with
// the standby when the worker had been serving a while, else by starting
// a new one, backing off while workers crash in a loop.
func (p *Primary) waitWorker(w *worker) {
	_ = w.cmd.Wait()
	w.ctrl.Close()
	close(w.exited)
	s := w.slot.Load()
	pid := w.cmd.Process.Pid
	if p.opts.Reports != nil {
		p.opts.Reports.Exited(s.id, pid)
	}

	p.mu.Lock()
	delete(p.all, w)
	if p.standby == w {
		p.standby = nil
	}
	replace := !p.draining && !w.retired.Load() && p.isCurrent(s)
	if replace {
		if time.Since(w.started) < time.Second {
			s.backoff = nextBackoff(s.backoff)
		} else {
			s.backoff = 0
		}
	}
	promoted := replace && s.id != standbyID && s.backoff == 0 && p.promoteStandby(s)
	next := s // the slot to start a worker in
	if promoted {
		next = p.standbySlot
	}
	p.rebuildReady()
	delay := s.backoff
	p.mu.Unlock()
	// No dispatch sends to w any more: what is queued for it stays there.
	orphans := p.takeBack(w)
	w.inbox.Close()

	exited := w.cmd.ProcessState.Success() // drained: told to, or signalled itself
	switch {
	case w.retired.Load() && exited:
		p.log.Info("worker exited", "id", s.id, "pid", pid, "status", w.cmd.ProcessState.String())
	case w.retired.Load():
		p.log.Warn("worker failed while draining", "id", s.id, "pid", pid, "status", w.cmd.ProcessState.String(),
			"undelivered_connections", len(orphans))
	case exited:
		p.log.Info("worker exited on its own", "id", s.id, "pid", pid, "status", w.cmd.ProcessState.String(),
			"undelivered_connections", len(orphans))
	default:
		p.log.Error("worker died", "id", s.id, "pid", pid, "status", w.cmd.ProcessState.String(),
			"undelivered_connections", len(orphans))
	}
	p.dispatch(orphans)
	if !replace {
		return
	}
	switch {
	case delay > nextBackoff(0):
		p.log.Warn("worker restarts too often; backing off", "id", s.id, "delay", delay.String())
	case delay > 0:
		p.log.Warn("worker exited within a second of starting; restarting it", "id", s.id, "delay", delay.String())
	}
	if promoted {
		p.log.Info("standby took over", "id", s.id, "pid", s.current.Load().cmd.Process.Pid)
	}
	time.AfterFunc(delay, func() { p.restart(next) })
}

// standbyID is the slot id of the standby worker: started and serving, but
// handed no connection until a worker dies and it takes that one's slot.
const standbyID = 0

// promoteStandby moves a ready standby into s. p.mu is held.
func (p *Primary) promoteStandby(s *slot) bool {
	sb := p.standby
	if sb == nil || !sb.isReady.Load() || isClosed(sb.exited) {
		return false
	}
	p.standby = nil
	sb.slot.Store(s)
	s.current.Store(sb)
	s.restarts.Add(1)
	_, _ = sb.ctrl.Write(encode(msgSlot, uint32(s.id)))
	return true
}

// isCurrent reports whether s belongs to the serving generation. p.mu is
// held.
func (p *Primary) isCurrent(s *slot) bool {
	return len(p.slots) > 0 && p.slots[0].generation == s.generation
}

// nextBackoff is the pause before a worker slot's next restart, after
// one of d: doubling from 100 ms up to 10 s.
func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, 100*time.Millisecond), 10*time.Second)
}

// restart starts a replacement worker in s, retrying with backoff.
func (p *Primary) restart(s *slot) {
	p.mu.Lock()
	stale := p.draining || !p.isCurrent(s)
	p.mu.Unlock()
	if stale {
		return
	}
	if s.id != standbyID {
		s.restarts.Add(1)
	}
	err := p.start(s)
	p.mu.Lock()
	failed := s.failedStarts
	if err != nil {
		s.failedStarts++
		s.backoff = nextBackoff(s.backoff)
	} else {
		s.failedStarts = 0
	}
	delay := s.backoff
	p.mu.Unlock()
	if err == nil {
		if failed > 0 {
			p.log.Info("worker restarted", "id", s.id, "failed_attempts", failed)
		}
		return
	}
	if failed == 0 {
		// Once per run of failures: out of fds, say, they repeat until
		// fds are freed.
		p.log.Error("cannot restart worker; retrying with backoff until it starts", "id", s.id, "error", err)
	}
	time.AfterFunc(delay, func() { p.restart(s) })
}

// rebuildReady lists the current generation's serving workers. p.mu is held.
func (p *Primary) rebuildReady() {
	p.ready = p.ready[:0]
	for _, s := range p.slots {
		if w := s.current.Load(); w != nil && w.isReady.Load() && !w.retired.Load() && !w.stalled.Load() && !isClosed(w.exited) {
			p.ready = append(p.ready, w)
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// takeParked returns the parked connections. p.mu is held.
func (p *Primary) takeParked() []handoff {
	conns := p.parked
	p.parked = nil
	return conns
}

// maxParked bounds connections held while no worker can take them.
const maxParked = 4096

// dispatch hands conns to the workers the balancer picks. A worker that
// cannot take its share (queue full, or gone) is skipped and its share
// goes to the others; what no worker takes is parked: the watch goroutine
// offers it again every checkInterval, and refuses it after ParkTimeout.
func (p *Primary) dispatch(conns []handoff) {
	if len(conns) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	candidates := append([]*worker(nil), p.ready...)
	for len(conns) > 0 && len(candidates) > 0 {
		p.active = p.active[:0]
		for _, w := range candidates {
			p.active = append(p.active, w.active.Load())
		}
		for _, h := range conns {
			i := p.opts.Balancer.Pick(p.active)
			p.active[i]++
			candidates[i].batch = append(candidates[i].batch, h)
		}
		var failed []handoff
		kept := candidates[:0]
		for _, w := range candidates {
			if len(w.batch) == 0 {
				kept = append(kept, w)
				continue
			}
			if sent, err := w.send(w.batch); err != nil {
				failed = append(failed, w.batch[sent:]...)
			} else {
				kept = append(kept, w)
			}
			w.batch = w.batch[:0]
		}
		candidates = kept
		conns = failed
	}
	if len(conns) == 0 {
		return
	}
	room := maxParked - len(p.parked)
	if room < len(conns) {
		p.log.Error("no worker can take connections; refusing some", "refused", len(conns)-room)
		p.refuse(conns[room:])
		conns = conns[:room]
	}
	now := time.Now().UnixNano()
	for i := range conns {
		if conns[i].parked == 0 {
			conns[i].parked = now
		}
	}
	p.parked = append(p.parked, conns...)
}

// send passes conns to the worker and closes the primary's copies: the
// message holds them until the worker reads it, or the primary reads it
// back if the worker dies first. It returns how many it sent; the rest
// stay open.
func (w *worker) send(conns []handoff) (int, error) {
	sent := 0
	for sent < len(conns) {
		chunk := conns[sent:min(len(conns), sent+maxFDsPerMsg)]
		if err := sendConns(w.ctrl, chunk); err != nil {
			return sent, err
		}
		closeConns(chunk)
		w.sentBytes.Add(uint64(msgSize + len(chunk)*len(peerAddr{})))
		w.active.Add(int64(len(chunk)))
		w.slot.Load().handed.Add(uint64(len(chunk)))
		sent += len(chunk)
	}
	return sent, nil
}

// connSource yields accepted connections, a batch at a time, until it
// returns errStopped.
type connSource interface {
	accept(conns []handoff) ([]handoff, error)
}

// acceptLoop accepts connections until the acceptor is stopped and
// dispatches them in batches. Running out of fds or memory is waited out
// with a growing pause, not spun on.
func (p *Primary) acceptLoop(acc connSource) {
	batch := make([]handoff, 0, 64)
	backoff := time.Duration(0)
	for {
		var err error
		batch, err = acc.accept(batch[:0])
		p.dispatch(batch)
		switch {
		case err == nil:
			backoff = 0
		case errors.Is(err, errStopped):
			return
		case isTemporary(err):
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed; backing off", "error", err, "delay", backoff.String())
			time.Sleep(backoff)
		default:
			p.log.Error("accept failed; no longer accepting", "error", err)
			return
		}
	}
}

// shed refuses a connection accepted only to take it off the backlog
// while the primary is out of fds, and says so once per interval. The
// accept goroutine calls it.
func (p *Primary) shed(h handoff) {
	p.refuse([]handoff{h})
	if n := p.fdLog.add(time.Now(), 1); n > 0 {
		p.log.Error("out of file descriptors: refusing new connections", "refused", n, "interval", fdLogInterval.String())
	}
}

// drain stops every worker gracefully, bounded by DrainTimeout.
func (p *Primary) drain() {
	p.mu.Lock()
	parked := p.takeParked()
	p.mu.Unlock()
	p.dispatch(parked) // accepted before the listener closed: still served

	p.mu.Lock()
	p.draining = true
	workers := make([]*worker, 0, len(p.all))
	for w := range p.all {
		workers = append(workers, w)
	}
	parked = p.takeParked()
	p.mu.Unlock()
	p.refuse(parked)

	p.log.Info("draining", "workers", len(workers), "timeout", p.opts.DrainTimeout.String())
	p.retire(workers)
	p.waitExit(workers)
}

// retire tells workers to finish what they have and exit. A worker told
// once already (an old generation still draining) is not told again.
func (p *Primary) retire(workers []*worker) {
	var told []*worker
	for _, w := range workers {
		if !w.retired.Swap(true) {
			told = append(told, w)
		}
	}
	p.mu.Lock()
	p.rebuildReady()
	p.mu.Unlock()
	for _, w := range told {
		if w.tell(msgDrain) != nil {
			// Its queue is full: it takes the connections no more.
			p.dispatch(p.takeBack(w))
			_ = w.tell(msgDrain)
		}
	}
}

// tell sends the worker a message without waiting: a worker that does not
// read its control socket must not stop the primary.
func (w *worker) tell(typ byte) error {
	raw, err := w.ctrl.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	err = raw.Control(func(fd uintptr) {
		sendErr = unix.Sendmsg(int(fd), encode(typ, 0), nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	})
	return errors.Join(err, sendErr)
}

// waitExit waits for workers to exit, killing those still there after
// the drain timeout.
func (p *Primary) waitExit(workers []*worker) {
	deadline := time.NewTimer(p.opts.DrainTimeout)
	defer deadline.Stop()
	for _, w := range workers {
		select {
		case <-w.exited:
		case <-deadline.C:
			for _, w := range workers {
				if !isClosed(w.exited) {
					p.log.Warn("worker did not drain in time; killing it", "id", w.slot.Load().id, "pid", w.cmd.Process.Pid)
					_ = w.cmd.Process.Kill()
				}
			}
			for _, w := range workers {
				<-w.exited
			}
			return
		}
	}
}

func slotWorkers(slots []*slot) []*worker {
	var ws []*worker
	for _, s := range slots {
		if s != nil {
			if w := s.current.Load(); w != nil {
				ws = append(ws, w)
			}
		}
	}
	return ws
}
