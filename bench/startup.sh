#!/usr/bin/env bash
# Start-up time of `wasmcluster serve --workers 2`, from exec to the first
# 200, for the Go hello and the C hello: cold (an empty compilation
# cache) and warm (the cache the cold start filled). Prints the median of
# ROUNDS rounds and the ratio warm/cold. Target: warm <= 300 ms.
#
# BEFORE=REV also builds the CLI of git revision REV and measures it in
# the same rounds, each start of one beside the same start of the other,
# and prints the ratios after/before.
#
#   bench/startup.sh
#   ROUNDS=5 bench/startup.sh
#   ROUNDS=5 BEFORE=main bench/startup.sh
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

go build -o "$tmp/after" ./cmd/wasmcluster
builds=(after)
if [ -n "${BEFORE:-}" ]; then
  mkdir "$tmp/src"
  git archive "$BEFORE" | tar -x -C "$tmp/src"
  (cd "$tmp/src" && go build -o "$tmp/before" ./cmd/wasmcluster)
  builds=(before after)
fi
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/hello-go.wasm" ./examples/hello-wasm/go
clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c -o "$tmp/hello-c.wasm" \
  examples/hello-wasm/c/hello.c guest-sdk/c/wasmcluster.c

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_ms BUILD MODULE CACHE: milliseconds from exec to the first 200.
start_ms() {
  local t0 t1
  t0=$(now_ms)
  TMPDIR=$tmp "$tmp/$1" serve --workers 2 --log-level warn --listen "127.0.0.1:$PORT" --cache-dir "$3" "$2" &
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

printf '%-8s %-8s %10s %10s %10s\n' hello build cold_ms warm_ms warm/cold
for lang in go c; do
  declare -A cold=() warm=()
  for round in $(seq "$ROUNDS"); do
    for build in "${builds[@]}"; do
      cache="$tmp/cache-$build-$lang-$round"
      cold[$build]+="$(start_ms "$build" "$tmp/hello-$lang.wasm" "$cache") "
    done
    for build in "${builds[@]}"; do
      cache="$tmp/cache-$build-$lang-$round"
      warm[$build]+="$(start_ms "$build" "$tmp/hello-$lang.wasm" "$cache") "
    done
  done
  declare -A c=() w=()
  for build in "${builds[@]}"; do
    c[$build]=$(printf '%s\n' ${cold[$build]} | median)
    w[$build]=$(printf '%s\n' ${warm[$build]} | median)
    printf '%-8s %-8s %10d %10d %10s\n' "$lang" "$build" "${c[$build]}" "${w[$build]}" \
      "$(awk -v w="${w[$build]}" -v c="${c[$build]}" 'BEGIN {printf "%.3f", w / c}')"
  done
  if [ ${#builds[@]} = 2 ]; then
    printf '%-8s %-8s %10s %10s\n' "$lang" after/bef \
      "$(awk -v a="${c[after]}" -v b="${c[before]}" 'BEGIN {printf "%.3f", a / b}')" \
      "$(awk -v a="${w[after]}" -v b="${w[before]}" 'BEGIN {printf "%.3f", a / b}')"
  fi
  unset cold warm c w
done
