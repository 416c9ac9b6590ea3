#!/usr/bin/env bash
# Serves the hello handler five ways at once — wasmcluster with the hello
# example (Go on the SDK's Exchange API, what `make serve` serves) and two
# of its siblings (Go on net/http, and C), one worker per CPU each; a plain
# Go net/http server; and Node's cluster, one worker per CPU — and loads
# them with wrk on 127.0.0.1, with keep-alive and with "Connection: close".
# Each round loads every server in turn, so that all of them see the
# machine in the same state; each figure is the median of the rounds.
# Prints requests/s and the ratios.
#
# The wasmcluster rows tell apart what the cluster costs (the Exchange and
# C guests spend about a microsecond per request) and what Go's net/http
# types cost a guest compiled to WebAssembly.
#
# BEFORE=REV also builds the CLI and the three guests of git revision REV
# and serves them beside this tree's in the same rounds, then prints the
# ratios this tree / REV.
#
#   bench/run.sh                                   # 3 rounds of 5 s runs, 64 connections
#   ROUNDS=5 DURATION=10s CONNECTIONS=32 bench/run.sh
#   ROUNDS=5 BEFORE=HEAD~10 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}

. bench/lib.sh # $tmp and pids, cleaned up on exit; await, rps, median, ratio
need wrk node clang curl

# build DIR: the CLI and the three hello guests of the tree in the
# current directory, into DIR.
build() {
  mkdir -p "$1"
  go build -o "$1/wasmcluster" ./cmd/wasmcluster
  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$1/hello-go.wasm" ./examples/hello-wasm/go
  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$1/hello-go-exchange.wasm" ./examples/hello-wasm/go-exchange
  clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c -o "$1/hello-c.wasm" \
    examples/hello-wasm/c/hello.c guest-sdk/c/wasmcluster.c
}
build "$tmp/after"
go build -o "$tmp/plaingo" ./bench/plaingo
if [ -n "${BEFORE:-}" ]; then
  mkdir "$tmp/src"
  git archive "$BEFORE" | tar -x -C "$tmp/src"
  (cd "$tmp/src" && build "$tmp/before")
fi

# wasmcluster BUILD GUEST PORT serves a hello guest of BUILD.
wasmcluster() { exec "$tmp/$1/wasmcluster" serve --log-level warn --listen "127.0.0.1:$3" "$tmp/$1/hello-$2.wasm"; }

# start NAME COMMAND...: starts a server on the next port; COMMAND gets
# the port as its last argument.
names=()
declare -A port
next_port=18180
start() {
  local name=$1; shift
  next_port=$((next_port + 1))
  port[$name]=$next_port
  names+=("$name")
  "$@" "$next_port" &
  pids+=($!)
}
guests=(go-exchange go c)
for guest in "${guests[@]}"; do
  start "wasmcluster/$guest" wasmcluster after "$guest"
  if [ -n "${BEFORE:-}" ]; then
    start "$BEFORE/$guest" wasmcluster before "$guest"
  fi
done
start plain-go "$tmp/plaingo"
start node-cluster node bench/node-cluster.js

# load NAME [wrk args...] prints the requests/s wrk measured.
load() { local name=$1; shift; rps "http://127.0.0.1:${port[$name]}/hello" "$@"; }

for name in "${names[@]}"; do
  await "http://127.0.0.1:${port[$name]}/hello"
done

declare -A ka close
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for name in "${names[@]}"; do
    ka[$name]+=" $(load "$name")"
    close[$name]+=" $(load "$name" -H 'Connection: close')"
  done
done

for name in "${names[@]}"; do
  ka[$name]=$(median "${ka[$name]}")
  close[$name]=$(median "${close[$name]}")
done

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1, $(nproc) CPUs; requests/s, median of $ROUNDS rounds"
printf '%-24s %12s %12s\n' "" keep-alive close
for name in "${names[@]}"; do
  printf '%-24s %12.0f %12.0f\n' "$name" "${ka[$name]}" "${close[$name]}"
done
echo
for guest in "${guests[@]}"; do
  name=wasmcluster/$guest
  printf '%-23s / plain Go:     keep-alive %s (target >= 0.90)   close %s (target >= 0.85)\n' "$name" \
    "$(ratio "${ka[$name]}" "${ka[plain-go]}")" "$(ratio "${close[$name]}" "${close[plain-go]}")"
  printf '%-23s / node:cluster: keep-alive %s (target > 1)      close %s (target > 1)\n' "$name" \
    "$(ratio "${ka[$name]}" "${ka[node-cluster]}")" "$(ratio "${close[$name]}" "${close[node-cluster]}")"
done
if [ -n "${BEFORE:-}" ]; then
  echo
  for guest in "${guests[@]}"; do
    printf '%-23s / %s:  keep-alive %s   close %s\n' "wasmcluster/$guest" "$BEFORE" \
      "$(ratio "${ka[wasmcluster/$guest]}" "${ka[$BEFORE/$guest]}")" "$(ratio "${close[wasmcluster/$guest]}" "${close[$BEFORE/$guest]}")"
  done
fi
