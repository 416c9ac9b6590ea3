#!/usr/bin/env bash
# Serves the hello handler five ways — wasmcluster with three of the hello
# examples (Go on net/http, Go on the SDK's Exchange, and C; one worker per
# CPU each), a plain Go net/http server, and Node's cluster (one worker per
# CPU) — and loads each in turn with wrk on 127.0.0.1, with keep-alive and
# with "Connection: close", after a warm-up run. Prints requests/s and the
# ratios.
#
# The wasmcluster rows tell apart what the cluster costs (the C and
# Exchange guests spend about a microsecond per request) and what Go's
# net/http types cost a guest compiled to WebAssembly.
#
#   bench/run.sh                         # 10 s per run, 64 connections
#   DURATION=5s CONNECTIONS=32 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=18180

for tool in wrk node clang; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (scripts/install-toolchains)" >&2; exit 1; }
done

tmp=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/wasmcluster" ./cmd/wasmcluster
go build -o "$tmp/plaingo" ./bench/plaingo
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/hello-go.wasm" ./examples/hello-wasm/go
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/hello-go-exchange.wasm" ./examples/hello-wasm/go-exchange
clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c -o "$tmp/hello-c.wasm" \
  examples/hello-wasm/c/hello.c guest-sdk/c/wasmcluster.c

# rps PORT [wrk args...] prints the requests/s wrk measured.
rps() {
  local port=$1; shift
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "http://127.0.0.1:$port/hello" |
    awk '/^Requests\/sec:/ {print $2}'
}

# measure NAME COMMAND...: starts the server, warms it up, records its
# keep-alive and Connection: close figures, and stops it.
names=()
declare -A ka close
measure() {
  local name=$1; shift
  PORT=$((PORT + 1))
  "$@" "$PORT" &
  pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/hello" >/dev/null
  names+=("$name")
  ka[$name]=$(rps "$PORT")
  close[$name]=$(rps "$PORT" -H 'Connection: close')
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

wasmcluster() { exec "$tmp/wasmcluster" serve --log-level warn --listen "127.0.0.1:$2" "$1"; }
measure "wasmcluster/go" wasmcluster "$tmp/hello-go.wasm"
measure "wasmcluster/go-exchange" wasmcluster "$tmp/hello-go-exchange.wasm"
measure "wasmcluster/c" wasmcluster "$tmp/hello-c.wasm"
measure "plain-go" "$tmp/plaingo"
measure "node-cluster" node bench/node-cluster.js

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1, $(nproc) CPUs; requests/s"
printf '%-24s %12s %12s\n' "" keep-alive close
for name in "${names[@]}"; do
  printf '%-24s %12s %12s\n' "$name" "${ka[$name]}" "${close[$name]}"
done
echo
for name in wasmcluster/go wasmcluster/go-exchange wasmcluster/c; do
  printf '%-23s / plain Go:     keep-alive %s (target >= 0.90)   close %s (target >= 0.85)\n' "$name" \
    "$(ratio "${ka[$name]}" "${ka[plain-go]}")" "$(ratio "${close[$name]}" "${close[plain-go]}")"
  printf '%-23s / node:cluster: keep-alive %s (target > 1)      close %s (target > 1)\n' "$name" \
    "$(ratio "${ka[$name]}" "${ka[node-cluster]}")" "$(ratio "${close[$name]}" "${close[node-cluster]}")"
done
