#!/usr/bin/env bash
# Start-up time of `wasmcluster serve --workers 2`, from exec to the first
# 200, for the Go hello and the C hello: cold (an empty compilation
# cache) and warm (the cache the cold start filled). Prints the median of
# ROUNDS rounds, the ratio warm/cold, and the CPU time a warm start used
# until its first 200 (primary, check process, workers): on a machine
# shared with other work the wall time follows the load, the CPU time much
# less. Target: warm <= 300 ms.
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

# cpu_ms PID: the CPU time PID and its children have used, in ms: its
# own, that of the children it reaped (the check process) and that of
# those still running (the workers).
cpu_ms() {
  local ticks
  ticks=$(cat "/proc/$1/stat" $(pgrep -P "$1" | sed 's|.*|/proc/&/stat|') 2>/dev/null |
    awk -v top="$1" '$1 == top {t += $14 + $15 + $16 + $17; next} {t += $14 + $15} END {print t}')
  echo $((ticks * 1000 / $(getconf CLK_TCK)))
}

# start_ms BUILD MODULE CACHE: milliseconds from exec to the first 200,
# and the CPU milliseconds the server used until then.
start_ms() {
  local t0 t1 cpu
  t0=$(now_ms)
  TMPDIR=$tmp "$tmp/$1" serve --workers 2 --log-level warn --listen "127.0.0.1:$PORT" --cache-dir "$3" "$2" &
  server=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/"; do
    kill -0 "$server" 2>/dev/null || { echo "startup: the server exited" >&2; exit 1; }
    sleep 0.002
  done
  t1=$(now_ms)
  cpu=$(cpu_ms "$server")
  kill -TERM "$server"
  wait "$server" || true
  server=
  echo $((t1 - t0)) "$cpu"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-8s %-8s %10s %10s %10s %12s\n' hello build cold_ms warm_ms warm/cold warm_cpu_ms
for lang in go c; do
  declare -A cold=() warm=() warmcpu=()
  for round in $(seq "$ROUNDS"); do
    for build in "${builds[@]}"; do
      cache="$tmp/cache-$build-$lang-$round"
      out=$(start_ms "$build" "$tmp/hello-$lang.wasm" "$cache")
      read -r ms _ <<<"$out"
      cold[$build]+="$ms "
    done
    for build in "${builds[@]}"; do
      cache="$tmp/cache-$build-$lang-$round"
      out=$(start_ms "$build" "$tmp/hello-$lang.wasm" "$cache")
      read -r ms cpu <<<"$out"
      warm[$build]+="$ms "
      warmcpu[$build]+="$cpu "
    done
  done
  declare -A c=() w=() wc=()
  for build in "${builds[@]}"; do
    c[$build]=$(printf '%s\n' ${cold[$build]} | median)
    w[$build]=$(printf '%s\n' ${warm[$build]} | median)
    wc[$build]=$(printf '%s\n' ${warmcpu[$build]} | median)
    printf '%-8s %-8s %10d %10d %10s %12d\n' "$lang" "$build" "${c[$build]}" "${w[$build]}" \
      "$(awk -v w="${w[$build]}" -v c="${c[$build]}" 'BEGIN {printf "%.3f", w / c}')" "${wc[$build]}"
  done
  if [ ${#builds[@]} = 2 ]; then
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
    printf '%-8s %-8s %10s %10s %10s %12s\n' "$lang" after/bef "$(ratio "${c[after]}" "${c[before]}")" \
      "$(ratio "${w[after]}" "${w[before]}")" "" "$(ratio "${wc[after]}" "${wc[before]}")"
  fi
  unset cold warm warmcpu c w wc
done
