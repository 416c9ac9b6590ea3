package wasmcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmcluster/wasmcluster/host"
)

// A module the primary is asked to serve is untrusted bytes: a compiler
// bug it triggers could panic, or allocate until the process dies. So the
// primary never compiles one itself. It runs its own program again in
// check mode — the environment names the copy to check and the file for
// the verdict — and that process loads the module as a worker would,
// under an address-space limit and a time limit. Whatever the module does
// to it, the primary reads one line: the module's error, or how the check
// died.

// Environment of a check process.
const (
	envCheckModule = "WASMCLUSTER_CHECK_MODULE" // the copy to check
	envCheckResult = "WASMCLUSTER_CHECK_RESULT" // where the error goes
)

// checkOverhead is the address space a check may use beyond one
// instance's linear memory: the Go runtime's reservations, the compiler's
// and the compiled code.
const checkOverhead = 8 << 30

// checkTimeout bounds a check beyond the guest's own initialization
// (bounded by the request timeout): compiling a large module takes
// seconds, not minutes.
const checkTimeout = 2 * time.Minute

// isCheck reports whether this process is a check process.
func isCheck() bool { return os.Getenv(envCheckModule) != "" }

// runCheck is a check process: it loads the module and exits 0, or
// writes the error to the result file and exits 1.
func runCheck(ctx context.Context, cfg Config) int {
	limit := checkOverhead + cfg.Host.MaxMemory
	if cfg.Host.MaxMemory == 0 {
		limit += host.DefaultMaxMemory
	}
	_ = unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: limit, Max: limit})
	hostCfg := cfg.Host
	hostCfg.CompilationCacheDir = os.Getenv(envCacheDir)
	hostCfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // the workers log the guest
	err := checkModule(ctx, os.Getenv(envCheckModule), hostCfg)
	if err == nil {
		return 0
	}
	_ = os.WriteFile(os.Getenv(envCheckResult), []byte(err.Error()), 0o600)
	return 1
}

func checkModule(ctx context.Context, path string, cfg host.Config) error {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	h, err := host.New(ctx, wasm, cfg)
	if err != nil {
		return err
	}
	return h.Close(ctx)
}

// checkInChild runs a check process on the module copy at path and
// returns the module's error, or why the check failed, in one line.
func checkInChild(ctx context.Context, cfg Config, path string) error {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	result := path + ".error"
	defer os.Remove(result)
	timeout := checkTimeout + cfg.Host.Timeout
	if cfg.Host.Timeout <= 0 {
		timeout += host.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(),
		envCheckModule+"="+path,
		envCheckResult+"="+result,
		envCacheDir+"="+cfg.Host.CompilationCacheDir)
	stderr := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("the module check did not finish within %s", timeout)
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		if msg, rerr := os.ReadFile(result); rerr == nil && len(msg) > 0 {
			return errors.New(firstLine(string(msg)))
		}
	}
	if why := crashLine(stderr.String()); why != "" {
		return fmt.Errorf("the module check crashed (%s)", why)
	}
	return fmt.Errorf("the module check failed: %v", err)
}

// crashLine picks from a dead process's stderr the line that says why.
func crashLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") {
			return line
		}
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// tailBuffer keeps the first max bytes written to it.
type tailBuffer struct {
	bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// copyPath is where the nth copy of the module goes.
func copyPath(dir string, n int) string {
	return filepath.Join(dir, fmt.Sprintf("module-%d.wasm", n))
}
