package dispatcher

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// checkInterval is how often the primary looks at its workers' queues
// and at the connections it parked.
const checkInterval = 100 * time.Millisecond

// stallTimeout is how long a worker may leave connections unread on its
// control socket before the primary stops handing it any, and takes back
// those it left, for the others.
const stallTimeout = time.Second

// msgPing asks a stalled worker to show it reads again: it is read and
// ignored, and its leaving the queue is the sign.
const msgPing = 'P'

// defaultBusyReply answers a connection no worker took within
// Options.ParkTimeout.
var defaultBusyReply = []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

// stall is the primary's view of how a worker reads its control socket.
// Only the checking goroutine touches it.
type stall struct {
	since    time.Time // when unread connections last stopped moving, or zero
	consumed uint64    // bytes the worker had read at the last check
}

// watch checks, until stop closes, that every worker reads its control
// socket, and hands parked connections out again.
func (p *Primary) watch(stop chan struct{}) {
	t := time.NewTicker(checkInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p.checkWorkers(now)
			p.retryParked(now)
		}
	}
}

// checkWorkers marks stalled a worker whose unread connections have not
// moved for stallTimeout, takes them back and hands them to the others; a
// stalled worker that has read its queue empty again serves once more.
func (p *Primary) checkWorkers(now time.Time) {
	p.mu.Lock()
	workers := append([]*worker(nil), p.ready...)
	for _, s := range p.slots {
		if w := s.current.Load(); w != nil && w.stalled.Load() {
			workers = append(workers, w)
		}
	}
	p.mu.Unlock()
	var reclaimed []handoff
	changed := false
	for _, w := range workers {
		unread := queued(w.inbox)
		if w.stalled.Load() {
			if unread == 0 && !isClosed(w.exited) {
				w.stalled.Store(false)
				w.health = stall{}
				changed = true
				p.log.Info("worker reads its control socket again", "id", w.slot.Load().id, "pid", w.cmd.Process.Pid)
			}
			continue
		}
		consumed := w.sentBytes.Load() - uint64(unread)
		switch {
		case unread == 0 || consumed != w.health.consumed:
			w.health = stall{consumed: consumed}
		case w.health.since.IsZero():
			w.health.since = now
		case now.Sub(w.health.since) >= stallTimeout:
			w.stalled.Store(true)
			changed = true
			conns := p.takeBack(w)
			reclaimed = append(reclaimed, conns...)
			_ = w.tell(msgPing)
			p.log.Warn("worker stopped reading its control socket; handing its connections to others",
				"id", w.slot.Load().id, "pid", w.cmd.Process.Pid, "reclaimed", len(conns))
		}
	}
	if changed {
		p.mu.Lock()
		p.rebuildReady()
		reclaimed = append(reclaimed, p.takeParked()...)
		p.mu.Unlock()
	}
	p.dispatch(reclaimed)
}

// retryParked hands parked connections out again, and answers those
// parked for longer than ParkTimeout with the busy reply.
func (p *Primary) retryParked(now time.Time) {
	p.mu.Lock()
	parked := p.takeParked()
	p.mu.Unlock()
	if len(parked) == 0 {
		return
	}
	deadline := now.Add(-p.opts.ParkTimeout).UnixNano()
	kept := parked[:0]
	var expired []handoff
	for _, h := range parked {
		if h.parked < deadline {
			expired = append(expired, h)
		} else {
			kept = append(kept, h)
		}
	}
	if len(expired) > 0 {
		p.log.Warn("no worker took connections in time; answered busy", "connections", len(expired),
			"park_timeout", p.opts.ParkTimeout.String())
		p.refuse(expired)
	}
	p.dispatch(kept)
}

// takeBack reads back the connections queued for w, which will not read
// them. Those the primary has no fd for are lost: the kernel closes them
// (the client sees a reset), and the log says so once per interval.
func (p *Primary) takeBack(w *worker) []handoff {
	conns, lost := drainQueue(w.inbox)
	w.active.Add(-int64(len(conns) + lost))
	if lost > 0 {
		p.mu.Lock()
		n := p.lostLog.add(time.Now(), lost)
		p.mu.Unlock()
		if n > 0 {
			p.log.Error("no file descriptor free to take connections back from a worker: the kernel closed them",
				"closed", n, "interval", fdLogInterval.String())
		}
	}
	return conns
}

// refuse writes the busy reply to conns, without waiting, and closes them.
func (p *Primary) refuse(conns []handoff) {
	for _, h := range conns {
		if len(p.opts.BusyReply) > 0 {
			_, _ = unix.Write(h.fd, p.opts.BusyReply)
		}
		closeRead(h.fd)
	}
}

// closeRead closes a connection after it reads, without waiting, what the
// client sent (up to 64 KiB): closed with bytes unread, a socket sends a
// reset rather than a FIN, and a client whose network stack gets the
// reset before the reply may drop the reply.
func closeRead(fd int) {
	var buf [4096]byte
	for range 16 {
		if n, err := unix.Read(fd, buf[:]); n <= 0 || err != nil {
			break
		}
	}
	unix.Close(fd)
}

// queued returns the bytes waiting unread on a worker's end of its control
// socket.
func queued(end *os.File) int {
	raw, err := end.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = raw.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n
}

// fdLogInterval is how often the log repeats that a process is out of
// file descriptors while it stays so.
const fdLogInterval = 10 * time.Second

// logLimiter lets a condition that repeats reach the log once per
// interval, with a count of its repeats. Its user serializes calls.
type logLimiter struct {
	last  time.Time
	count int
}

// add counts n more repeats and returns the count to log now, or 0.
func (l *logLimiter) add(now time.Time, n int) int {
	l.count += n
	if now.Sub(l.last) < fdLogInterval {
		return 0
	}
	l.last = now
	n, l.count = l.count, 0
	return n
}
