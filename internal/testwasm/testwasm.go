// Package testwasm builds Wasm guests from source for tests.
//
// Each builder needs a toolchain on PATH. Where one is missing, a local run
// skips the test and says which tool to install; under CI (CI set in the
// environment) the test fails instead, because CI installs every toolchain.
package testwasm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Root returns the repository root, found from this file's location.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Require makes sure tool is on PATH: it returns its path, or skips the test
// (fails it under CI).
func Require(t testing.TB, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	msg := tool + " is not installed; scripts/install-toolchains installs it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Run runs a build command in dir with extra environment variables and
// fails the test with its output if it fails.
func Run(t testing.TB, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
	}
}

// read returns the file's bytes or fails the test.
func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WAT assembles WebAssembly text with wat2wasm and returns the binary;
// flags go to wat2wasm (--no-check makes an invalid module).
func WAT(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	tool := Require(t, "wat2wasm")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	Run(t, dir, nil, tool, append([]string{in, "-o", out}, flags...)...)
	return read(t, out)
}

// GoReactor builds the Go package at pkg (a path relative to the repository
// root, such as "examples/hello-wasm/go") as a wasip1 reactor
// (-buildmode=c-shared) and returns the path of the .wasm file.
func GoReactor(t testing.TB, pkg string) string {
	t.Helper()
	return goBuild(t, pkg, "-buildmode=c-shared")
}

// GoCommand builds the Go package at pkg as a plain wasip1 command (with
// _start) and returns the path of the .wasm file.
func GoCommand(t testing.TB, pkg string) string {
	t.Helper()
	return goBuild(t, pkg)
}

func goBuild(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	return Cached(t, pkg+" "+strings.Join(flags, " "), func(dir string) string {
		out := filepath.Join(dir, "module.wasm")
		args := append([]string{"build"}, flags...)
		args = append(args, "-o", out, "./"+filepath.ToSlash(pkg))
		Run(t, Root(), []string{"GOOS=wasip1", "GOARCH=wasm"}, "go", args...)
		return out
	})
}

// Main runs a package's tests, then removes what Cached built: a test
// package that builds guests calls it from TestMain, so that its run
// leaves nothing behind in the temporary directory.
//
//	func TestMain(m *testing.M) { os.Exit(testwasm.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if tempDir != "" {
		_ = os.RemoveAll(tempDir)
	}
	return code
}

var (
	cacheMu sync.Mutex
	cache   = map[string]string{}
	tempDir string
)

// Cached builds once per test binary: the first call for key runs build
// in a fresh directory that lasts as long as the process, and every call
// returns the path build returned.
func Cached(t testing.TB, key string, build func(dir string) string) string {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if path, ok := cache[key]; ok {
		return path
	}
	if tempDir == "" {
		dir, err := os.MkdirTemp("", "testwasm-")
		if err != nil {
			t.Fatal(err)
		}
		tempDir = dir
	}
	dir, err := os.MkdirTemp(tempDir, "build-")
	if err != nil {
		t.Fatal(err)
	}
	path := build(dir)
	cache[key] = path
	return path
}
