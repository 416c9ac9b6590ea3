package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"time"

	"github.com/wasmcluster/wasmcluster"
	"github.com/wasmcluster/wasmcluster/dispatcher"
)

// compile runs "wasmcluster compile [flags] HANDLER.wasm": it takes the
// flags of serve, of which those that change the compiled code (--mode,
// --max-memory, --cache-dir) must match the server's.
func compile(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseServe(args, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "wasmcluster: %v\nRun 'wasmcluster serve --help' for the flags.\n", err)
		return 2
	}
	if cfg.PrivateCache {
		fmt.Fprintln(stderr, "wasmcluster: compile with --no-cache would keep nothing")
		return 2
	}
	start := time.Now()
	dir, err := wasmcluster.Compile(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(stderr, "wasmcluster: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "compiled %s into %s in %s\n", cfg.Module, dir, time.Since(start).Round(time.Millisecond))
	return 0
}

// control runs reload, stop and status, which act on a running server
// through its pid file (signals) or, for status, its admin endpoints.
func control(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pidFile := fs.String("pid-file", "", "the server's --pid-file")
	admin := fs.String("admin", "", "the server's --admin address (status)")
	wait := durationFlag(time.Minute)
	fs.Var(&wait, "wait", "longest stop waits for the server to exit")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(stderr, "wasmcluster %s: %v\nUsage: wasmcluster %s --pid-file FILE%s\n", cmd, err, cmd, map[bool]string{true: " | --admin ADDRESS"}[cmd == "status"])
		return 2
	}
	if cmd == "status" && *admin != "" {
		return status(*admin, stdout, stderr)
	}
	if *pidFile == "" {
		fmt.Fprintf(stderr, "wasmcluster %s: --pid-file is required%s\n", cmd, map[bool]string{true: " (or --admin)"}[cmd == "status"])
		return 2
	}
	pid, err := wasmcluster.ReadPIDFile(*pidFile)
	if err == nil && syscall.Kill(pid, 0) != nil {
		err = fmt.Errorf("process %d of pid file %s is not running", pid, *pidFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wasmcluster %s: %v\n", cmd, err)
		return 1
	}
	switch cmd {
	case "status":
		fmt.Fprintf(stdout, "running, pid %d\n", pid)
		return 0
	case "reload":
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			fmt.Fprintf(stderr, "wasmcluster reload: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "reload asked of pid %d; its log says how it went\n", pid)
		return 0
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		fmt.Fprintf(stderr, "wasmcluster stop: %v\n", err)
		return 1
	}
	deadline := time.Now().Add(time.Duration(wait))
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "wasmcluster stop: pid %d still running after %s\n", pid, time.Duration(wait))
			return 1
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(stdout, "stopped pid %d\n", pid)
	return 0
}

// status prints whether the server at admin is ready, and its workers;
// it exits 0 when ready, 1 when not.
func status(admin string, stdout, stderr io.Writer) int {
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get("http://" + admin + "/readyz")
	if err != nil {
		fmt.Fprintf(stderr, "wasmcluster status: %v\n", err)
		return 1
	}
	res.Body.Close()
	ready := res.StatusCode == http.StatusOK
	res, err = client.Get("http://" + admin + "/workers")
	if err != nil {
		fmt.Fprintf(stderr, "wasmcluster status: %v\n", err)
		return 1
	}
	defer res.Body.Close()
	var workers []dispatcher.WorkerStats
	if err := json.NewDecoder(res.Body).Decode(&workers); err != nil {
		fmt.Fprintf(stderr, "wasmcluster status: /workers: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ready: %v\n", ready)
	for _, w := range workers {
		fmt.Fprintf(stdout, "%-7s %d  pid %-7d generation %d  ready %-5v  active %d  requests %d  restarts %d\n",
			w.Role, w.ID, w.PID, w.Generation, w.Ready, w.Active, w.Requests, w.Restarts)
	}
	if !ready {
		return 1
	}
	return 0
}
