#!/usr/bin/env bash
# Serves the hello handler three ways — wasmcluster (hello.wasm, one worker
# per CPU), a plain Go net/http server, and Node's cluster (one worker per
# CPU) — and loads each in turn with wrk on 127.0.0.1, with keep-alive and
# with "Connection: close". Prints requests/s and the ratios.
#
#   bench/run.sh                         # 10 s per run, 64 connections
#   DURATION=5s CONNECTIONS=32 bench/run.sh
#   MODULE=path/to/other.wasm bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT_WASM=18180 PORT_GO=18181 PORT_NODE=18182

command -v wrk >/dev/null || { echo "bench: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
command -v node >/dev/null || { echo "bench: node is not installed" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/wasmcluster" ./cmd/wasmcluster
go build -o "$tmp/plaingo" ./bench/plaingo
if [ -z "${MODULE:-}" ]; then
  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/hello.wasm" ./examples/hello-wasm/go
  MODULE="$tmp/hello.wasm"
fi

wait_up() {
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: nothing answers on port $1" >&2
  exit 1
}

# rps PORT [wrk args...] prints the requests/s wrk measured.
rps() {
  local port=$1; shift
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "http://127.0.0.1:$port/hello" |
    awk '/^Requests\/sec:/ {print $2}'
}

# measure NAME PORT: keep-alive and Connection: close figures.
declare -A ka close
measure() {
  wait_up "$2"
  ka[$1]=$(rps "$2")
  close[$1]=$(rps "$2" -H 'Connection: close')
  kill "${pids[-1]}"
  wait "${pids[-1]}" 2>/dev/null || true
}

"$tmp/wasmcluster" serve --listen "127.0.0.1:$PORT_WASM" --log-level warn "$MODULE" &
pids+=($!)
measure wasmcluster "$PORT_WASM"

"$tmp/plaingo" -listen "127.0.0.1:$PORT_GO" &
pids+=($!)
measure plain-go "$PORT_GO"

node bench/node-cluster.js "$PORT_NODE" &
pids+=($!)
measure node-cluster "$PORT_NODE"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1, $(nproc) CPUs; requests/s"
printf '%-14s %12s %12s\n' "" keep-alive close
for name in wasmcluster plain-go node-cluster; do
  printf '%-14s %12s %12s\n' "$name" "${ka[$name]}" "${close[$name]}"
done
echo
printf 'wasmcluster / plain Go:     keep-alive %s (target >= 0.90)   close %s (target >= 0.85)\n' \
  "$(ratio "${ka[wasmcluster]}" "${ka[plain-go]}")" "$(ratio "${close[wasmcluster]}" "${close[plain-go]}")"
printf 'wasmcluster / node:cluster: keep-alive %s (target > 1)      close %s (target > 1)\n' \
  "$(ratio "${ka[wasmcluster]}" "${ka[node-cluster]}")" "$(ratio "${close[wasmcluster]}" "${close[node-cluster]}")"
