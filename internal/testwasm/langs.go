package testwasm

import (
	"path/filepath"
	"strings"
	"testing"
)

// C compiles C sources (paths relative to the repository root) with clang
// for wasm32-wasi, with guest-sdk/c on the include path, and returns the
// path of the .wasm file. reactor builds an http-wasm handler; otherwise a
// command (main).
func C(t testing.TB, reactor bool, srcs ...string) string {
	t.Helper()
	clang := Require(t, "clang")
	Require(t, "wasm-ld")
	return Cached(t, "c "+strings.Join(srcs, " "), func(dir string) string {
		out := filepath.Join(dir, "module.wasm")
		args := []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "-I", "guest-sdk/c", "-o", out}
		if reactor {
			args = append(args, "-mexec-model=reactor")
		}
		Run(t, Root(), nil, clang, append(args, srcs...)...)
		return out
	})
}

// Rust compiles a Rust handler (a path relative to the repository root)
// against guest-sdk/rust with Debian's rustc for wasm32-wasi.
func Rust(t testing.TB, src string) string {
	t.Helper()
	rustc := Require(t, "/usr/bin/rustc")
	return Cached(t, "rust "+src, func(dir string) string {
		lib := filepath.Join(dir, "libwasmcluster_guest.rlib")
		out := filepath.Join(dir, "module.wasm")
		common := []string{"--edition", "2021", "--target", "wasm32-wasi", "-O"}
		Run(t, Root(), nil, rustc, append(common, "--crate-type=rlib", "--crate-name", "wasmcluster_guest",
			"-o", lib, "guest-sdk/rust/src/lib.rs")...)
		Run(t, Root(), nil, rustc, append(common, "--crate-type=cdylib",
			"--extern", "wasmcluster_guest="+lib, "-o", out, src)...)
		return out
	})
}

// AssemblyScript compiles an AssemblyScript handler (a path relative to
// the repository root) with the compiler guest-sdk/assemblyscript installs.
func AssemblyScript(t testing.TB, src string) string {
	t.Helper()
	asc := Require(t, filepath.Join(Root(), "guest-sdk/assemblyscript/node_modules/.bin/asc"))
	return Cached(t, "assemblyscript "+src, func(dir string) string {
		out := filepath.Join(dir, "module.wasm")
		Run(t, Root(), nil, asc, src, "-O3", "--use", "abort=", "-o", out)
		return out
	})
}

// WATFile assembles a .wat file (a path relative to the repository root).
func WATFile(t testing.TB, src string) string {
	t.Helper()
	tool := Require(t, "wat2wasm")
	return Cached(t, "wat "+src, func(dir string) string {
		out := filepath.Join(dir, "module.wasm")
		Run(t, Root(), nil, tool, src, "-o", out)
		return out
	})
}
