package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmcluster/wasmcluster/kv"
)

// kvFuncs are the key-value functions of extModule: every call names a
// store of Config.KV and works on it, bounded by Config.KVLimits and by
// the request's deadline. Strings are (ptr, len) pairs of i32; a ttl is
// an i64 of milliseconds, 0 for none.
var kvFuncs = []hostFunc{
	{"kv_get", []api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).kvGet},
	{"kv_set", []api.ValueType{i32, i32, i32, i32, i32, i32, i64}, []api.ValueType{i64}, (*exchange).kvSet},
	{"kv_delete", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).kvDelete},
	{"kv_exists", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).kvExists},
	{"kv_list", []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i64}, (*exchange).kvList},
	{"kv_increment", []api.ValueType{i32, i32, i32, i32, i64, i32, i32}, []api.ValueType{i64}, (*exchange).kvIncrement},
	{"kv_cas", []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i64}, []api.ValueType{i64}, (*exchange).kvCompareAndSwap},
}

// kvAbsent as the length of kv_cas's old value means "the key is not set".
const kvAbsent = 0xffffffff

// kvCall is one call into a store: the store, the key (or prefix) the
// guest named, a context that ends at the request's deadline, and the
// series the call counts in, with when it began.
type kvCall struct {
	ex     *exchange
	op     string
	name   string
	store  kv.Store
	key    string
	ctx    context.Context
	cancel context.CancelFunc
	series *kvSeries
	start  time.Time
}

// kvBegin reads the store name and key at stack[0:4] and checks them. It
// returns ok false after ending the call with an error (stack[0] is set).
func (ex *exchange) kvBegin(op string, stack []uint64, prefix bool) (c kvCall, ok bool) {
	c = kvCall{ex: ex, op: op}
	name := ex.read(stack[0], uint64(uint32(stack[1])), op+" store")
	store, found := ex.inst.h.cfg.KV[string(name)]
	if !found {
		ex.inst.h.metrics.kvOps.WithLabelValues(unregisteredLabel, kvOp(op), outcomeFailed).Inc()
		stack[0] = ex.extError(fmt.Errorf("%s: no key-value store named %q", op, name))
		return c, false
	}
	c.name, c.store, c.series = string(name), store, ex.inst.h.kvSeries[string(name)][op]
	c.key = string(ex.read(stack[2], uint64(uint32(stack[3])), op+" key"))
	limits := ex.inst.h.cfg.KVLimits
	check := limits.CheckKey
	if prefix {
		check = limits.CheckPrefix
	}
	if err := check(c.key); err != nil {
		c.series.failed.Inc()
		stack[0] = ex.extError(fmt.Errorf("%s: %w", op, err))
		return c, false
	}
	parent := context.Background()
	if ex.r != nil {
		parent = ex.r.Context()
	}
	c.ctx, c.cancel = context.WithDeadline(parent, time.Unix(0, ex.inst.deadline.Load()))
	c.start = time.Now()
	return c, true
}

// refuse ends a call before it reaches the store, for an argument the
// limits or the ABI do not allow.
func (c *kvCall) refuse(err error) uint64 {
	c.cancel()
	c.series.failed.Inc()
	return c.ex.extError(fmt.Errorf("%s %q: %w", c.op, c.key, err))
}

// fail ends a call whose store failed: the guest gets the error, and the
// log a line, since a store that fails is the operator's to know — unless
// the value was refused, or the client went away during the call.
func (c *kvCall) fail(err error) uint64 {
	gone := errors.Is(c.ctx.Err(), context.Canceled)
	c.end(c.series.failed)
	if !errors.Is(err, kv.ErrNotInteger) && !errors.Is(err, kv.ErrOverflow) && !gone {
		c.ex.inst.log(slog.LevelWarn, "key-value store failed", "store", c.name, "op", c.op, "error", err.Error())
	}
	return c.ex.extError(fmt.Errorf("%s %q: %w", c.op, c.key, err))
}

// done ends a successful call with a result, or with code (not found or
// conflict) when found is false.
func (c *kvCall) done(found bool, code int64, buf, limit uint64, out []byte) uint64 {
	if !found {
		outcome := c.series.notFound
		if code == extConflict {
			outcome = c.series.conflict
		}
		c.end(outcome)
		return c.ex.extCode(code)
	}
	c.end(c.series.ok)
	return c.ex.extResult(buf, limit, out)
}

// end counts a call that reached its store in outcome and its latency.
func (c *kvCall) end(outcome prometheus.Counter) {
	c.cancel()
	outcome.Inc()
	c.series.latency.Observe(time.Since(c.start).Seconds())
}

// kvGet is kv_get(store, store_len, key, key_len, buf, buf_limit) -> i64:
// the value's length, or -2 when the key is not set.
func (ex *exchange) kvGet(stack []uint64) {
	c, ok := ex.kvBegin("kv_get", stack, false)
	if !ok {
		return
	}
	v, found, err := c.store.Get(c.ctx, c.key)
	if err != nil {
		stack[0] = c.fail(err)
		return
	}
	stack[0] = c.done(found, extNotFound, stack[4], stack[5], v)
}

// kvSet is kv_set(store, store_len, key, key_len, value, value_len, ttl_ms)
// -> i64: 0.
func (ex *exchange) kvSet(stack []uint64) {
	c, ok := ex.kvBegin("kv_set", stack, false)
	if !ok {
		return
	}
	value := ex.read(stack[4], uint64(uint32(stack[5])), "kv_set value")
	ttl, err := kvTTL(stack[6])
	if err == nil {
		err = ex.inst.h.cfg.KVLimits.CheckValue(value)
	}
	if err != nil {
		stack[0] = c.refuse(err)
		return
	}
	// value aliases guest memory, which the guest cannot change while the
	// host runs.
	if err := c.store.Set(c.ctx, c.key, value, ttl); err != nil {
		stack[0] = c.fail(err)
		return
	}
	stack[0] = c.done(true, 0, 0, 0, nil)
}

// kvDelete is kv_delete(store, store_len, key, key_len) -> i64: 0, or -2
// when the key was not set.
func (ex *exchange) kvDelete(stack []uint64) { ex.kvFound("kv_delete", stack, kv.Store.Delete) }

// kvExists is kv_exists(store, store_len, key, key_len) -> i64: 0, or -2
// when the key is not set.
func (ex *exchange) kvExists(stack []uint64) { ex.kvFound("kv_exists", stack, kv.Store.Exists) }

// kvFound runs a call on a key whose result is whether the key was set.
func (ex *exchange) kvFound(op string, stack []uint64, call func(kv.Store, context.Context, string) (bool, error)) {
	c, ok := ex.kvBegin(op, stack, false)
	if !ok {
		return
	}
	found, err := call(c.store, c.ctx, c.key)
	if err != nil {
		stack[0] = c.fail(err)
		return
	}
	stack[0] = c.done(found, extNotFound, 0, 0, nil)
}

// kvList is kv_list(store, store_len, prefix, prefix_len, after, after_len,
// limit, buf, buf_limit) -> i64: the keys that start with prefix and sort
// after after, at most limit (0: the most allowed), each followed by a NUL.
func (ex *exchange) kvList(stack []uint64) {
	c, ok := ex.kvBegin("kv_list", stack, true)
	if !ok {
		return
	}
	after := string(ex.read(stack[4], uint64(uint32(stack[5])), "kv_list after"))
	limit := ex.inst.h.cfg.KVLimits.Page(int(int32(stack[6])))
	keys, err := c.store.List(c.ctx, c.key, after, limit)
	if err != nil {
		stack[0] = c.fail(err)
		return
	}
	var out []byte
	for _, k := range keys {
		out = append(append(out, k...), 0)
	}
	stack[0] = c.done(true, 0, stack[7], stack[8], out)
}

// kvIncrement is kv_increment(store, store_len, key, key_len, delta, buf,
// buf_limit) -> i64: 8, the length of the new value written at buf as a
// little-endian i64.
func (ex *exchange) kvIncrement(stack []uint64) {
	c, ok := ex.kvBegin("kv_increment", stack, false)
	if !ok {
		return
	}
	n, err := c.store.Increment(c.ctx, c.key, int64(stack[4]))
	if err != nil {
		stack[0] = c.fail(err)
		return
	}
	stack[0] = c.done(true, 0, stack[5], stack[6], binary.LittleEndian.AppendUint64(nil, uint64(n)))
}

// kvCompareAndSwap is kv_cas(store, store_len, key, key_len, old, old_len,
// value, value_len, ttl_ms) -> i64: 0 when the key held old (old_len -1:
// was not set) and now holds value, -3 when it held something else.
func (ex *exchange) kvCompareAndSwap(stack []uint64) {
	c, ok := ex.kvBegin("kv_cas", stack, false)
	if !ok {
		return
	}
	var old []byte
	if uint32(stack[5]) != kvAbsent {
		old = ex.read(stack[4], uint64(uint32(stack[5])), "kv_cas old")
		if old == nil {
			old = []byte{}
		}
	}
	value := ex.read(stack[6], uint64(uint32(stack[7])), "kv_cas value")
	ttl, err := kvTTL(stack[8])
	if err == nil {
		err = ex.inst.h.cfg.KVLimits.CheckValue(value)
	}
	if err != nil {
		stack[0] = c.refuse(err)
		return
	}
	swapped, err := c.store.CompareAndSwap(c.ctx, c.key, old, value, ttl)
	if err != nil {
		stack[0] = c.fail(err)
		return
	}
	stack[0] = c.done(swapped, extConflict, 0, 0, nil)
}

// kvTTL reads a ttl_ms argument.
func kvTTL(ms uint64) (time.Duration, error) {
	if int64(ms) < 0 || int64(ms) > int64(time.Duration(1<<63-1)/time.Millisecond) {
		return 0, fmt.Errorf("time-to-live of %d ms is out of range", int64(ms))
	}
	return time.Duration(ms) * time.Millisecond, nil
}
