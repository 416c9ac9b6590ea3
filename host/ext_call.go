package host

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/tetratelabs/wazero/api"
)

// Function is a host function: a Go function of the embedding program that
// a guest calls by name (wasmcluster.call). in is the guest's input, which
// the function may keep; what it returns goes back to the guest. An error
// reaches the guest as an error value carrying its message; a panic is
// recovered, logged, and answers the request with 500.
//
// ctx carries the request the guest is serving (RequestFromContext) and
// ends when the request does or its deadline passes: the time a function
// takes counts toward the request's deadline.
type Function func(ctx context.Context, in []byte) ([]byte, error)

// JSONFunction adapts a function of typed values to a Function: the
// guest's input is decoded from JSON into In, and the result encoded to
// JSON. Input that does not decode is an error for the guest.
func JSONFunction[In, Out any](f func(ctx context.Context, in In) (Out, error)) Function {
	return func(ctx context.Context, in []byte) ([]byte, error) {
		var v In
		if err := json.Unmarshal(in, &v); err != nil {
			return nil, fmt.Errorf("decode input: %w", err)
		}
		out, err := f(ctx, v)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}

// Defaults of FunctionLimits.
const (
	DefaultMaxCallInput   = 1 << 20
	DefaultMaxCallOutput  = 4 << 20
	DefaultMaxCallsPerReq = 1000
)

// FunctionLimits bound what guests do with host functions. Zero fields take
// the defaults.
type FunctionLimits struct {
	// MaxInput bounds the bytes a guest passes to one call; a larger
	// input is an error for the guest. Default DefaultMaxCallInput.
	MaxInput int
	// MaxOutput bounds the bytes one call may return; a function that
	// returns more fails the call. Default DefaultMaxCallOutput.
	MaxOutput int
	// MaxCalls bounds the calls of one request; the calls past it fail.
	// Default DefaultMaxCallsPerReq.
	MaxCalls int
}

func (l FunctionLimits) withDefaults() FunctionLimits {
	if l.MaxInput <= 0 {
		l.MaxInput = DefaultMaxCallInput
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = DefaultMaxCallOutput
	}
	if l.MaxCalls <= 0 {
		l.MaxCalls = DefaultMaxCallsPerReq
	}
	return l
}

// callFuncs call the embedding program's host functions.
var callFuncs = []hostFunc{
	{"call", []api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).callFunction},
}

// callFunction is call(name, name_len, in, in_len, buf, buf_limit) -> i64:
// the result of the host function name with input in, or extNotFound when
// there is none of that name.
func (ex *exchange) callFunction(stack []uint64) {
	ex.inRequest("call")
	name := ex.readString(stack[0], stack[1], "call")
	in := ex.read(stack[2], stack[3], "call")
	h := ex.inst.h
	limits := h.cfg.FunctionLimits
	f, ok := h.cfg.Functions[name]
	if !ok {
		h.metrics.functionCalls.WithLabelValues(unregisteredLabel, outcomeNotFound).Inc()
		stack[0] = ex.extCode(extNotFound)
		return
	}
	series, succeeded := h.functionSeries[name], false
	defer func() { // also when the function panics
		if succeeded {
			series.ok.Inc()
		} else {
			series.failed.Inc()
		}
	}()
	switch {
	case ex.scope.calls >= limits.MaxCalls:
		stack[0] = ex.extError(fmt.Errorf("call %s: over the limit of %d calls per request", name, limits.MaxCalls))
		return
	case len(in) > limits.MaxInput:
		stack[0] = ex.extError(fmt.Errorf("call %s: input of %d bytes is over the limit of %d", name, len(in), limits.MaxInput))
		return
	}
	ex.scope.calls++
	out, err := ex.runFunction(name, f, append([]byte(nil), in...))
	switch {
	case err != nil:
		stack[0] = ex.extError(err)
	case len(out) > limits.MaxOutput:
		stack[0] = ex.extError(fmt.Errorf("call %s: result of %d bytes is over the limit of %d", name, len(out), limits.MaxOutput))
	default:
		succeeded = true
		stack[0] = ex.extResult(stack[4], stack[5], out)
	}
}

// runFunction runs f. A panic in it is logged with its stack and traps the
// guest, so that the request gets 500 and the instance is replaced.
func (ex *exchange) runFunction(name string, f Function, in []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			ex.inst.report(slog.LevelError, "host function panicked", "function", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			trap("host function %s panicked", name)
		}
	}()
	return f(ex.context(), in)
}
