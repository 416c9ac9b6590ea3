package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// newInstance returns an instance not yet started: the pool shows it to
// the watchdog before start runs any guest code.
func (h *Handler) newInstance() *instance {
	inst := &instance{interrupter: newInterrupter(), h: h}
	inst.stdout = guestOutput{level: slog.LevelInfo, stop: &inst.interrupter, log: func(level slog.Level, text string) { inst.log(level, "guest stdout", "line", text) }}
	inst.stderr = guestOutput{level: slog.LevelWarn, stop: &inst.interrupter, log: func(level slog.Level, text string) { inst.log(level, "guest stderr", "line", text) }}
	inst.ex.inst = inst
	return inst
}

// start instantiates the guest and runs its initialization — the module's
// start function, _initialize, then _start — bounded by the request
// timeout. A handler that also exports _start (TinyGo's default build) is
// initialized by it, as other http-wasm hosts do: its main enables features
// and registers the handler, then returns.
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
	if err := runStart(i, mod, "_initialize", "_start"); err != nil {
		_ = mod.Close(context.Background())
		return fmt.Errorf("initialize instance: %w", i.initError(err))
	}
	return nil
}

// runStart runs a module's initialization as the watchdog sees it: the
// start function the instrumenter exported in place of the start section,
// then each export named in then (_initialize and _start for a handler —
// TinyGo's default build initializes in _start —, _start for a command),
// each when the module has it.
// ctx is the guest's interrupter, or the instance that holds it.
func runStart(ctx context.Context, mod api.Module, then ...string) error {
	for _, name := range append([]string{startExport}, then...) {
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

// errExitedInStart explains a handler whose _start exits rather than
// returns: it cannot serve afterwards. A Go program built as a command does
// this (its main returns, then the runtime exits).
var errExitedInStart = errors.New("_start exited instead of returning, so the module cannot serve requests; " +
	"build a Go handler with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")

// initError says why initialization failed, in one line.
func (i *instance) initError(err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() == 0 {
			return errExitedInStart
		}
		return fmt.Errorf("_start exited with code %d", exit.ExitCode())
	}
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

// log writes one guest log line with the request's id, within the
// request's log budget.
func (i *instance) log(level slog.Level, msg string, args ...any) {
	i.write(true, level, msg, args...)
}

// report writes the host's one line on how the guest's request ended,
// with the request's id. It is outside the log budget, so that a guest
// which spent its budget cannot hide why its request failed.
func (i *instance) report(level slog.Level, msg string, args ...any) {
	i.write(false, level, msg, args...)
}

func (i *instance) write(budgeted bool, level slog.Level, msg string, args ...any) {
	logger := i.h.cfg.Logger
	if !logger.Enabled(context.Background(), level) {
		return
	}
	id := i.requestID()
	if id != "" {
		args = append(args, "request_id", id)
	}
	if !budgeted || i.logs.take(logger, len(msg)+lineLen(args), id) {
		logger.Log(context.Background(), level, msg, args...)
	}
}

// lineLen is the length of a log line's string attributes.
func lineLen(args []any) int {
	n := 0
	for _, a := range args {
		if s, ok := a.(string); ok {
			n += len(s)
		}
	}
	return n
}

// Bounds of guest logging: one line (log calls are cut there, output
// lines split there), and what one request may log in all, counting
// logLineCost bytes for each line besides its text.
const (
	maxLogLine       = 4096
	maxLogPerRequest = 256 << 10
	logLineCost      = 64
)

// logBudget is what a guest may still log for one request; the zero
// value is a full budget.
type logBudget struct{ used int }

// take spends n bytes (and a line's cost) of the budget and reports
// whether the line may go out. The line that crosses the limit is
// replaced by one saying so; after it, nothing more goes out.
func (b *logBudget) take(logger *slog.Logger, n int, requestID string) bool {
	if b.used > maxLogPerRequest {
		return false
	}
	b.used += n + logLineCost
	if b.used <= maxLogPerRequest {
		return true
	}
	logger.Warn("guest log over the limit; the rest for this request is dropped",
		"limit", maxLogPerRequest, "request_id", requestID)
	return false
}

// maxPanic bounds the text of a guest's panic kept for one log record.
const maxPanic = 64 << 10

// guestOutput turns a guest's stdout or stderr into log records: one per
// line at level, except that a panic (a line starting "panic: ", "fatal
// error: " or saying "panicked at") and every line after it until the
// call into the guest ends make a single record at ERROR, stack trace
// included.
type guestOutput struct {
	level slog.Level
	log   func(level slog.Level, text string)
	stop  *interrupter // checked before each write
	line  []byte       // the line being written
	panic []byte       // the panic's lines so far, while the guest panics
}

func (g *guestOutput) Write(p []byte) (int, error) {
	g.stop.check()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			g.line = append(g.line, p...)
			if len(g.line) >= maxLogLine {
				g.endLine()
			}
			break
		}
		g.line = append(g.line, p[:i]...)
		g.endLine()
		p = p[i+1:]
	}
	return n, nil
}

// endLine logs the line written so far, or adds it to the panic.
func (g *guestOutput) endLine() {
	line := g.line
	g.line = g.line[:0]
	switch {
	case g.panic != nil:
		if len(g.panic)+len(line) < maxPanic {
			g.panic = append(append(g.panic, '\n'), line...)
		}
	case isPanic(line):
		g.panic = append([]byte(nil), line...)
	case len(line) > 0:
		g.log(g.level, string(line))
	}
}

// isPanic reports whether a line of guest output starts a panic, in the
// words of Go, Rust or C's runtime.
func isPanic(line []byte) bool {
	return bytes.HasPrefix(line, []byte("panic: ")) || bytes.HasPrefix(line, []byte("fatal error: ")) ||
		bytes.Contains(line, []byte(" panicked at "))
}

// flush logs what is left when a call into the guest ends: a partial
// line, and a panic as one record.
func (g *guestOutput) flush() {
	if len(g.line) > 0 {
		g.endLine()
	}
	if g.panic != nil {
		g.log(slog.LevelError, string(bytes.TrimRight(g.panic, "\n")))
		g.panic = nil
	}
}
