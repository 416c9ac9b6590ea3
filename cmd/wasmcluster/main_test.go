package main

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wasmcluster/wasmcluster"
	"github.com/wasmcluster/wasmcluster/host"
)

// TestParseServe checks the Config that serve arguments come out as.
func TestParseServe(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, cfg wasmcluster.Config)
	}{
		{"defaults", []string{"x.wasm"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, "x.wasm", cfg.Module)
			assert.Equal(t, ":8080", cfg.Listen)
			assert.Equal(t, 0, cfg.Workers)
			assert.Equal(t, host.DefaultTimeout, cfg.Host.Timeout)
			assert.Equal(t, 30*time.Second, cfg.DrainTimeout)
			assert.Equal(t, uint64(host.DefaultMaxMemory), cfg.Host.MaxMemory)
			assert.Equal(t, int64(host.DefaultMaxRequestBody), cfg.Host.MaxRequestBody)
			assert.Equal(t, int64(host.DefaultMaxResponseBody), cfg.Host.MaxResponseBody)
		}},
		{"flags before the module", []string{"--listen", "127.0.0.1:8081", "--workers", "3", "x.wasm"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, "x.wasm", cfg.Module)
			assert.Equal(t, "127.0.0.1:8081", cfg.Listen)
			assert.Equal(t, 3, cfg.Workers)
		}},
		{"flags after the module", []string{"x.wasm", "--listen", "127.0.0.1:8081", "-workers=3"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, "x.wasm", cfg.Module)
			assert.Equal(t, "127.0.0.1:8081", cfg.Listen)
			assert.Equal(t, 3, cfg.Workers)
		}},
		{"flags on both sides", []string{"--env", "A=1", "x.wasm", "--env", "B=2", "--timeout", "2s"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, "x.wasm", cfg.Module)
			assert.Equal(t, map[string]string{"A": "1", "B": "2"}, cfg.Host.Env)
			assert.Equal(t, 2*time.Second, cfg.Host.Timeout)
		}},
		{"-- ends the flags", []string{"--workers", "2", "--", "-odd.wasm"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, "-odd.wasm", cfg.Module)
			assert.Equal(t, 2, cfg.Workers)
		}},
		{"sizes", []string{"x.wasm", "--max-memory", "64KiB", "--max-body", "10MB", "--max-response", "1G"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, uint64(64<<10), cfg.Host.MaxMemory)
			assert.Equal(t, int64(10e6), cfg.Host.MaxRequestBody)
			assert.Equal(t, int64(1<<30), cfg.Host.MaxResponseBody)
		}},
		{"largest memory", []string{"x.wasm", "--max-memory", "4GiB"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, uint64(4<<30), cfg.Host.MaxMemory)
		}},
		{"operations", []string{"x.wasm", "--cache-dir", "/var/cache/wc", "--pid-file", "/run/wc.pid", "--access-log=false",
			"--listen", "unix:/run/wc.sock", "--socket-mode", "0660", "--log-format", "json"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, "/var/cache/wc", cfg.Host.CompilationCacheDir)
			assert.False(t, cfg.PrivateCache)
			assert.Equal(t, "/run/wc.pid", cfg.PIDFile)
			assert.False(t, cfg.AccessLog)
			assert.Equal(t, os.FileMode(0o660), cfg.SocketMode)
			_, isJSON := cfg.Logger.Handler().(*slog.JSONHandler)
			assert.True(t, isJSON)
		}},
		{"operation defaults", []string{"x.wasm"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, wasmcluster.DefaultCacheDir(), cfg.Host.CompilationCacheDir)
			assert.True(t, cfg.AccessLog, "on by default")
			_, isText := cfg.Logger.Handler().(*slog.TextHandler)
			assert.True(t, isText)
		}},
		{"no cache", []string{"x.wasm", "--no-cache"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.True(t, cfg.PrivateCache)
		}},
		{"no body limits", []string{"x.wasm", "--max-body", "-1", "--max-response", "-1"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, int64(-1), cfg.Host.MaxRequestBody)
			assert.Equal(t, int64(-1), cfg.Host.MaxResponseBody)
		}},
		{"outbound allow-list", []string{"x.wasm", "--allow-outbound", "https://api.example.com", "--allow-outbound", "http://127.0.0.1:*"}, func(t *testing.T, cfg wasmcluster.Config) {
			assert.Equal(t, []string{"https://api.example.com", "http://127.0.0.1:*"}, cfg.Host.Outbound.Allow)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			cfg, err := parseServe(tc.args, &stdout)
			require.NoError(t, err)
			assert.Empty(t, stdout.String())
			tc.check(t, cfg)
		})
	}
}

// TestRunUsageErrors checks that bad serve arguments exit 2 with one line
// on stderr and nothing on stdout.
func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no module", nil, "serve takes one HANDLER.wasm, got 0 arguments"},
		{"two modules", []string{"x.wasm", "y.wasm"}, "serve takes one HANDLER.wasm, got 2 arguments"},
		{"flags after --", []string{"x.wasm", "--", "--workers", "2"}, "serve takes one HANDLER.wasm, got 3 arguments"},
		{"unknown flag after the module", []string{"x.wasm", "--bogus"}, "flag provided but not defined: -bogus"},
		{"negative workers", []string{"x.wasm", "--workers", "-1"}, "--workers -1: want a positive count, or 0 for one per CPU"},
		{"negative instances", []string{"--instances", "-3", "x.wasm"}, "--instances -3: want a positive count, or 0 for the default"},
		{"negative timeout", []string{"x.wasm", "--timeout", "-1s"}, "--timeout -1s: want a positive duration"},
		{"zero timeout", []string{"x.wasm", "--timeout", "0"}, "--timeout 0s: want a positive duration"},
		{"negative drain timeout", []string{"x.wasm", "--drain-timeout", "-1s"}, "--drain-timeout -1s: want a positive duration"},
		{"timeout without a unit", []string{"x.wasm", "--timeout", "5"}, `invalid value "5" for flag -timeout: "5" has no unit; write 5s for seconds, or ms, m, h`},
		{"timeout not a duration", []string{"x.wasm", "--timeout", "soon"}, `invalid value "soon" for flag -timeout: "soon" is not a duration such as 5s, 1m30s or 500ms`},
		{"log format", []string{"x.wasm", "--log-format", "xml"}, `--log-format: "xml" is not text or json`},
		{"socket mode", []string{"x.wasm", "--socket-mode", "rw"}, `invalid value "rw" for flag -socket-mode: "rw" is not permission bits in octal, such as 0660`},
		{"zero write timeout", []string{"x.wasm", "--write-timeout", "0s"}, "--write-timeout 0s: want a positive duration"},
		{"negative queue timeout", []string{"x.wasm", "--queue-timeout", "-1s"}, "--queue-timeout -1s: want a positive duration"},
		{"memory overflow", []string{"x.wasm", "--max-memory", "99999999999G"},
			`invalid value "99999999999G" for flag -max-memory: "99999999999G" is too large`},
		{"memory out of int64", []string{"x.wasm", "--max-memory", "99999999999999999999"},
			`invalid value "99999999999999999999" for flag -max-memory: "99999999999999999999" is too large`},
		{"memory under a page", []string{"x.wasm", "--max-memory", "1000"}, "--max-memory 1000: want 64KiB to 4GiB"},
		{"memory over 4GiB", []string{"x.wasm", "--max-memory", "5G"}, "--max-memory 5GiB: want 64KiB to 4GiB"},
		{"unlimited memory", []string{"x.wasm", "--max-memory", "-1"}, "--max-memory -1: want 64KiB to 4GiB"},
		{"zero response", []string{"x.wasm", "--max-response", "0"},
			`invalid value "0" for flag -max-response: "0" is not a size like 1048576, 64KiB or 10MB`},
		{"negative body", []string{"x.wasm", "--max-body", "-2"},
			`invalid value "-2" for flag -max-body: "-2" is not a size like 1048576, 64KiB or 10MB`},
		{"response overflow", []string{"x.wasm", "--max-response", "10000000000GB"},
			`invalid value "10000000000GB" for flag -max-response: "10000000000GB" is too large`},
		{"bad outbound pattern", []string{"x.wasm", "--allow-outbound", "api.example.com"},
			`--allow-outbound: outbound pattern "api.example.com": want scheme://host[:port], such as https://api.example.com`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(append([]string{"serve"}, tc.args...), &stdout, &stderr)
			assert.Equal(t, 2, status)
			assert.Empty(t, stdout.String())
			assert.Equal(t, "wasmcluster: "+tc.want+"\nRun 'wasmcluster serve --help' for usage.\n", stderr.String())
		})
	}
}

// TestRunHelp checks that what the user asks for goes to stdout, with
// status 0, and that a bare or unknown command goes to stderr, with 2.
func TestRunHelp(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		status     int
		wantStdout string // prefix
		wantStderr string // prefix
	}{
		{"serve --help", []string{"serve", "--help"}, 0, usage, ""},
		{"serve -h after the module", []string{"serve", "x.wasm", "-h"}, 0, usage, ""},
		{"help", []string{"help"}, 0, usage, ""},
		{"--help", []string{"--help"}, 0, usage, ""},
		{"version", []string{"version"}, 0, "wasmcluster dev\n", ""},
		{"no command", nil, 2, "", usage},
		{"unknown command", []string{"launch"}, 2, "", "wasmcluster: unknown command \"launch\"\n\n" + usage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tc.status, run(tc.args, &stdout, &stderr))
			assert.True(t, strings.HasPrefix(stdout.String(), tc.wantStdout), "stdout: %s", stdout.String())
			assert.True(t, strings.HasPrefix(stderr.String(), tc.wantStderr), "stderr: %s", stderr.String())
			if tc.wantStdout == "" {
				assert.Empty(t, stdout.String())
			}
			if tc.wantStderr == "" {
				assert.Empty(t, stderr.String())
			}
		})
	}

	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"serve", "--help"}, &stdout, &stderr))
	for _, want := range []string{
		"\n  -max-memory size\n",
		"\n  -max-body size\n",
		"\n  -max-response size\n",
		"\n  -dir HOST[:GUEST]\n",
		"(default 64MiB)",
	} {
		assert.Contains(t, stdout.String(), want)
	}
	assert.Equal(t, 2, strings.Count(stdout.String(), "HOST[:GUEST]"), "the -dir line, and once in its text")
}

// TestSize checks parseSize and formatSize.
func TestSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int64
		text string
	}{
		{"1", 1, "1"},
		{"100B", 100, "100"},
		{"65536", 64 << 10, "64KiB"},
		{"64K", 64 << 10, "64KiB"},
		{"1536KiB", 1536 << 10, "1536KiB"},
		{"10MB", 10e6, "10000000"},
		{"1GB", 1e9, "1000000000"},
		{"1024G", 1 << 40, "1024GiB"},
		{"8589934591GiB", 8589934591 << 30, "8589934591GiB"}, // the largest in GiB
		{"-1", -1, "-1"},
	} {
		n, err := parseSize(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.n, n, tc.in)
		assert.Equal(t, tc.text, formatSize(n), tc.in)
	}
	for _, in := range []string{"8589934592GiB", "9223372036854775808", "99999999999G"} {
		_, err := parseSize(in)
		assert.EqualError(t, err, `"`+in+`" is too large`)
	}
	for _, in := range []string{"", "0", "-5", "-99999999999999999999", "lots", "1.5GiB", "GiB", "-1KiB"} {
		_, err := parseSize(in)
		assert.EqualError(t, err, `"`+in+`" is not a size like 1048576, 64KiB or 10MB`)
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 0, run([]string{arg}, &stdout, &stderr))
		assert.Equal(t, "wasmcluster dev\n", stdout.String(), "a test binary has no module version")
		assert.Empty(t, stderr.String())
	}
}

func TestControlNeedsAServer(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run([]string{"stop"}, &stdout, &stderr))
	assert.Equal(t, "wasmcluster stop: --pid-file is required\n", stderr.String())
	stderr.Reset()
	assert.Equal(t, 1, run([]string{"reload", "--pid-file", t.TempDir() + "/none.pid"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "no such file or directory")
}
