package host

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/tetratelabs/wazero/api"
)

// newInstance starts one guest and runs its reactor initialization
// (_initialize), bounded by the request timeout.
func (h *Handler) newInstance(ctx context.Context) (*instance, error) {
	inst := &instance{h: h, done: make(chan struct{})}
	inst.stdout.log = func(line string) { inst.log(slog.LevelInfo, "guest stdout", "line", line) }
	inst.stderr.log = func(line string) { inst.log(slog.LevelInfo, "guest stderr", "line", line) }
	inst.ex.inst = inst
	inst.begin(nil, h.cfg.Timeout)
	defer inst.end()

	mc := h.moduleConfig().WithStdout(&inst.stdout).WithStderr(&inst.stderr)
	mod, err := h.runtime.InstantiateModule(inst, h.compiled, mc)
	if err != nil {
		return nil, fmt.Errorf("start instance: %w", firstLine(err))
	}
	inst.mod = mod
	inst.mem = mod.Memory()
	inst.flag, _ = mod.ExportedGlobal(interruptGlobal).(api.MutableGlobal)
	inst.handleRequest = mod.ExportedFunction("handle_request")
	inst.handleResponse = mod.ExportedFunction("handle_response")
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if err := inst.call(init); err != nil {
			_ = mod.Close(ctx)
			return nil, fmt.Errorf("initialize instance: %w", firstLine(err))
		}
	}
	return inst, nil
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
	log func(line string)
	buf []byte
}

func (g *guestOutput) Write(p []byte) (int, error) {
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
