#!/usr/bin/env bash
# Start-up time of `wasmcluster serve --workers 2`, from exec to the first
# 200, for the Go hello and the C hello: cold (an empty compilation
# cache) and warm (the cache the cold start filled). Prints the median of
# ROUNDS rounds and the ratio warm/cold. Target: warm <= 300 ms.
#
#   bench/startup.sh
#   ROUNDS=5 bench/startup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18280}
for tool in clang curl; do
  command -v "$tool" >/dev/null || { echo "startup: $tool is not installed (scripts/install-toolchains)" >&2; exit 1; }
done

tmp=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/wasmcluster" ./cmd/wasmcluster
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/hello-go.wasm" ./examples/hello-wasm/go
clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c -o "$tmp/hello-c.wasm" \
  examples/hello-wasm/c/hello.c guest-sdk/c/wasmcluster.c

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_ms MODULE CACHE: milliseconds from exec to the first 200.
start_ms() {
  local t0 t1
  t0=$(now_ms)
  TMPDIR=$tmp "$tmp/wasmcluster" serve --workers 2 --log-level warn --listen "127.0.0.1:$PORT" --cache-dir "$2" "$1" &
  server=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/"; do
    kill -0 "$server" 2>/dev/null || { echo "startup: the server exited" >&2; exit 1; }
    sleep 0.002
  done
  t1=$(now_ms)
  kill -TERM "$server"
  wait "$server" || true
  server=
  echo $((t1 - t0))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-10s %10s %10s %10s\n' hello cold_ms warm_ms warm/cold
for lang in go c; do
  cold=() warm=()
  for round in $(seq "$ROUNDS"); do
    cache="$tmp/cache-$lang-$round"
    cold+=("$(start_ms "$tmp/hello-$lang.wasm" "$cache")")
    warm+=("$(start_ms "$tmp/hello-$lang.wasm" "$cache")")
  done
  c=$(printf '%s\n' "${cold[@]}" | median)
  w=$(printf '%s\n' "${warm[@]}" | median)
  printf '%-10s %10d %10d %10s\n' "$lang" "$c" "$w" "$(awk -v w="$w" -v c="$c" 'BEGIN {printf "%.3f", w / c}')"
done
