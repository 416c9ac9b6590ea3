package host

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/tetratelabs/wazero/api"
)

// newInstance returns an instance not yet started: the pool shows it to
// the watchdog before start runs any guest code.
func (h *Handler) newInstance() *instance {
	inst := &instance{interrupter: newInterrupter(), h: h}
	inst.stdout.stop, inst.stderr.stop = &inst.interrupter, &inst.interrupter
	inst.stdout.log = func(line string) { inst.log(slog.LevelInfo, "guest stdout", "line", line) }
	inst.stderr.log = func(line string) { inst.log(slog.LevelInfo, "guest stderr", "line", line) }
	inst.ex.inst = inst
	return inst
}

// start instantiates the guest and runs its initialization — the module's
// start function and then _initialize — bounded by the request timeout.
func (i *instance) start() error {
	h := i.h
	i.begin(nil, h.cfg.Timeout)
	defer i.end()

	mc := h.moduleConfig(&i.interrupter).WithStdout(&i.stdout).WithStderr(&i.stderr)
	mod, err := h.runtime.InstantiateModule(i, h.compiled, mc)
	if err != nil {
		return fmt.Errorf("start instance: %w", i.initError(err))
	}
	i.mod = mod
	i.mem = mod.Memory()
	i.arm(mod)
	i.handleRequest = mod.ExportedFunction("handle_request")
	i.handleResponse = mod.ExportedFunction("handle_response")
	if err := runStart(i, mod, "_initialize"); err != nil {
		_ = mod.Close(context.Background())
		return fmt.Errorf("initialize instance: %w", i.initError(err))
	}
	return nil
}

// runStart runs a module's initialization as the watchdog sees it: the
// start function the instrumenter exported in place of the start section,
// then the export named next (_initialize for a reactor, _start for a
// command), each when the module has it.
// ctx is the guest's interrupter, or the instance that holds it.
func runStart(ctx context.Context, mod api.Module, next string) error {
	for _, name := range []string{startExport, next} {
		fn := mod.ExportedFunction(name)
		if fn == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := fn.Call(ctx); err != nil {
			return err
		}
	}
	return nil
}

// initError says why initialization failed, in one line.
func (i *instance) initError(err error) error {
	switch cause := i.Err(); cause {
	case context.DeadlineExceeded:
		return fmt.Errorf("still running after the %s timeout", i.h.cfg.Timeout)
	case errPoolClosed:
		return cause
	}
	return firstLine(err)
}

// requestID names the request in progress in logs: the client's
// X-Request-Id when it sent one, else a number unique to this handler.
func (i *instance) requestID() string {
	ex := &i.ex
	if ex.r == nil {
		return ""
	}
	if id := ex.r.Header.Get("X-Request-Id"); id != "" {
		return id
	}
	return strconv.FormatUint(ex.seq, 10)
}

// log writes one guest log line with the request's id.
func (i *instance) log(level slog.Level, msg string, args ...any) {
	logger := i.h.cfg.Logger
	if !logger.Enabled(context.Background(), level) {
		return
	}
	if id := i.requestID(); id != "" {
		args = append(args, "request_id", id)
	}
	logger.Log(context.Background(), level, msg, args...)
}

// maxLogLine bounds one line of guest output; longer lines are split.
const maxLogLine = 4096

// guestOutput turns a guest's stdout or stderr into log lines.
type guestOutput struct {
	log  func(line string)
	stop *interrupter // checked before each write
	buf  []byte
}

func (g *guestOutput) Write(p []byte) (int, error) {
	g.stop.check()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			g.buf = append(g.buf, p...)
			if len(g.buf) >= maxLogLine {
				g.flush()
			}
			break
		}
		g.buf = append(g.buf, p[:i]...)
		g.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (g *guestOutput) flush() {
	if len(g.buf) == 0 {
		return
	}
	g.log(string(g.buf))
	g.buf = g.buf[:0]
}
