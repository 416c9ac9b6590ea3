package wasmcluster

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/wasmcluster/wasmcluster/host"
	"github.com/wasmcluster/wasmcluster/kv"
)

func TestTheCheckIDChangesWithTheModuleAndWhatTheCheckDependsOn(t *testing.T) {
	base := func() Config {
		return Config{Host: host.Config{Env: map[string]string{"A": "1", "B": "2"}}, KV: map[string]string{"default": "sqlite:/a"}}
	}
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	id := checkID(base(), wasm)
	assert.Equal(t, id, checkID(base(), wasm), "the same: the same id")
	assert.NotEqual(t, id, checkID(base(), append(wasm, 0)), "other bytes")

	changes := map[string]func(*Config){
		"mode":            func(c *Config) { c.Host.Mode = host.ModeCGI },
		"timeout":         func(c *Config) { c.Host.Timeout = time.Second },
		"max memory":      func(c *Config) { c.Host.MaxMemory = 1 << 20 },
		"guest config":    func(c *Config) { c.Host.GuestConfig = []byte("x") },
		"env":             func(c *Config) { c.Host.Env["B"] = "3" },
		"mounts":          func(c *Config) { c.Host.Mounts = []host.Mount{{HostPath: "/srv"}} },
		"functions":       func(c *Config) { c.Host.Functions = map[string]host.Function{"f": nil} },
		"stores":          func(c *Config) { c.Host.KV = map[string]kv.Store{"s": nil} },
		"kv limits":       func(c *Config) { c.Host.KVLimits.MaxKey = 9 },
		"function limits": func(c *Config) { c.Host.FunctionLimits.MaxCalls = 9 },
		"outbound":        func(c *Config) { c.Host.Outbound.Allow = []string{"https://example.com"} },
		"root CAs":        func(c *Config) { c.Host.Outbound.RootCAs = x509.NewCertPool() },
	}
	for name, change := range changes {
		cfg := base()
		change(&cfg)
		assert.NotEqual(t, id, checkID(cfg, wasm), name)
	}

	same := map[string]func(*Config){
		"instances":      func(c *Config) { c.Host.MaxInstances = 9 },
		"request body":   func(c *Config) { c.Host.MaxRequestBody = 9 },
		"cache dir":      func(c *Config) { c.Host.CompilationCacheDir = "/elsewhere" },
		"CLI stores":     func(c *Config) { c.KV["default"] = "sqlite:/b" },
		"workers":        func(c *Config) { c.Workers = 9 },
		"env map order":  func(c *Config) { c.Host.Env = map[string]string{"B": "2", "A": "1"} },
		"drain timeout":  func(c *Config) { c.DrainTimeout = time.Hour },
		"listen address": func(c *Config) { c.Listen = ":1" },
	}
	for name, change := range same {
		cfg := base()
		change(&cfg)
		assert.Equal(t, id, checkID(cfg, wasm), name)
	}
}
