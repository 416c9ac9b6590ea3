package wasmcluster

import (
	"crypto/sha256"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/internal/signedcache"
	"github.com/wasmcluster/wasmcluster/kv"
)

// The check process (modcheck.go) costs a warm start as much as a worker:
// it loads the module all over again, only to learn what the last start
// learnt. So once a module passes, the primary records it in the
// compilation cache's signed part (internal/signedcache) — an entry named
// by the program's build ID, the module's bytes and the configuration the
// check used, signed with the cache's key — and a primary that finds the
// entry starts the workers at once. A different program (another wazero,
// instrumenter or host), other bytes or another configuration have no
// entry and are checked again. The entry is written only by a primary,
// after a check process said yes; the guest runs in no process that
// writes one, and a file put at its name without the cache's key does not
// count.

// checkedKind names the signed cache's entries of modules that passed
// their check.
const checkedKind = "checked"

// checkMark is a module's entry, present or not.
type checkMark struct {
	cache *signedcache.Cache // nil: no usable cache, the check always runs
	id    []byte
}

// markFor returns the entry of wasm checked under cfg.
func markFor(cfg Config, wasm []byte) checkMark {
	cache, err := signedcache.Open(cfg.Host.CompilationCacheDir)
	if err != nil {
		cache = nil
	}
	return checkMark{cache: cache, id: checkID(cfg, wasm)}
}

// passed reports whether the module passed its check before.
func (m checkMark) passed() bool {
	_, ok := m.cache.Get(checkedKind, m.id)
	return ok
}

// record notes that the module passed. A record that cannot be written
// costs the next start a check, nothing more.
func (m checkMark) record() { _ = m.cache.Put(checkedKind, m.id, nil) }

// checkID is what a check's verdict depends on besides the program: the
// module's bytes, and what of the configuration the check loads it with
// (checkedConfig).
func checkID(cfg Config, wasm []byte) []byte {
	sum := sha256.Sum256(wasm)
	h := sha256.New()
	h.Write(sum[:])
	_ = json.NewEncoder(h).Encode(checkedConfigOf(cfg)) // plain values: cannot fail
	return h.Sum(nil)
}

// checkedConfig is the configuration a check loads a module with, as far
// as it can change the outcome: the limits it runs under, what the guest
// sees at start (environment, config, mounts) and what it may import. The
// rest — instances, queue, body limits, logging — is what serving does
// with a loaded module.
type checkedConfig struct {
	Mode           host.Mode
	Timeout        time.Duration
	MaxMemory      uint64
	GuestConfig    []byte
	Env            map[string]string
	Mounts         []host.Mount
	Functions      []string
	Stores         []string // Host.KV: the check process opens no store of Config.KV
	KVLimits       kv.Limits
	FunctionLimits host.FunctionLimits
	Outbound       host.Outbound // RootCAs left out: OwnRootCAs says whether set
	OwnRootCAs     bool
}

func checkedConfigOf(cfg Config) checkedConfig {
	h := cfg.Host
	outbound := h.Outbound
	outbound.RootCAs = nil
	return checkedConfig{
		Mode:           h.Mode,
		Timeout:        h.Timeout,
		MaxMemory:      h.MaxMemory,
		GuestConfig:    h.GuestConfig,
		Env:            h.Env,
		Mounts:         h.Mounts,
		Functions:      slices.Sorted(maps.Keys(h.Functions)),
		Stores:         slices.Sorted(maps.Keys(h.KV)),
		KVLimits:       h.KVLimits,
		FunctionLimits: h.FunctionLimits,
		Outbound:       outbound,
		OwnRootCAs:     h.Outbound.RootCAs != nil,
	}
}
