#!/usr/bin/env bash
# First runs BenchmarkKV (kv/bench_test.go): a set and a get of one byte
# on each backend (SQLite, and a redis-server the benchmark starts) from
# native Go, from a WAT guest and from a Go guest, each COUNT times
# (go test -count), and prints the medians side by side with each
# guest's ratio to native Go and its cost over a request of its own that
# makes no call.
#
# Then loads the counter example (examples/counter: POST / increments "hits" in
# the store "default", GET / reads it) through the cluster, on the embedded
# store and on a redis-server this script starts, next to the hello
# example (what `make serve` serves), with wrk on 127.0.0.1 — one worker
# per CPU each. Each round loads every server in turn, so that all of them
# see the machine in the same state; each figure is the median of the
# rounds. Prints requests/s and each one's ratio to hello.
#
#   bench/kv.sh                                    # 3 rounds of 5 s runs, 16 connections
#   ROUNDS=5 DURATION=10s CONNECTIONS=64 BENCHTIME=5000x COUNT=5 bench/kv.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
BENCHTIME=${BENCHTIME:-1000x}
COUNT=${COUNT:-3}

. bench/lib.sh # $tmp and pids, cleaned up on exit; await, rps, median, ratio
need wrk curl redis-server

go test -run XXX -bench BenchmarkKV -benchtime "$BENCHTIME" -count "$COUNT" ./kv/ | tee "$tmp/bench.txt" >&2
echo
echo "BenchmarkKV, -benchtime $BENCHTIME, median of $COUNT, $(nproc) CPUs: µs per operation (guest: per request)"
sed -n 's#^BenchmarkKV/\([^ \t]*\)-[0-9]*[ \t].* \([0-9.]*\) ns/op.*#\1 \2#p' "$tmp/bench.txt" | sort -k1,1 -k2,2g |
awk '
  { v[$1, ++n[$1]] = $2 }
  END {
    for (k in n) {
      m = n[k]
      med = (m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2
      split(k, p, "/"); t[p[1] " " p[2] " " p[3]] = med / 1000
    }
    printf "%-7s %-4s %8s %8s %8s %11s %10s %11s %10s\n", "", "op", "native", "wat", "go", "wat/native", "go/native", "wat-none", "go-none"
    split("sqlite redis", backends, " "); split("set get", ops, " ")
    for (b = 1; b <= 2; b++) for (o = 1; o <= 2; o++) {
      k = backends[b]; op = ops[o]
      nat = t[k " native " op]; w = t[k " wat " op]; g = t[k " go " op]
      printf "%-7s %-4s %8.1f %8.1f %8.1f %11.2f %10.2f %11.1f %10.1f\n", k, op, nat, w, g, w / nat, g / nat, w - t[k " wat none"], g - t[k " go none"]
    }
    printf "requests that make no call: wat %.1f µs, go %.1f µs (sqlite run); %.1f, %.1f (redis run)\n", t["sqlite wat none"], t["sqlite go none"], t["redis wat none"], t["redis go none"]
  }'
echo

go build -o "$tmp/wasmcluster" ./cmd/wasmcluster
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/hello.wasm" ./examples/hello-wasm/go-exchange
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/counter.wasm" ./examples/counter

redis_port=18290
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" &
pids+=($!)

declare -A port=([hello]=18291 [counter-sqlite]=18292 [counter-redis]=18293)
names=(hello counter-sqlite counter-redis)
serve() { "$tmp/wasmcluster" serve --log-level warn --listen "127.0.0.1:${port[$1]}" "${@:2}" & pids+=($!); }
serve hello "$tmp/hello.wasm"
serve counter-sqlite --kv "default=sqlite:$tmp/kv.db" "$tmp/counter.wasm"
serve counter-redis --kv "default=redis://127.0.0.1:$redis_port/0" "$tmp/counter.wasm"

printf 'wrk.method = "POST"\n' >"$tmp/post.lua"

# load NAME [wrk args...] prints the requests/s wrk measured on /.
load() { local name=$1; shift; rps "http://127.0.0.1:${port[$name]}/" "$@"; }

for name in "${names[@]}"; do
  await "http://127.0.0.1:${port[$name]}/"
done

# runs: hello GET, and each counter's GET and POST.
runs=(hello counter-sqlite counter-sqlite/post counter-redis counter-redis/post)
declare -A rps
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for run in "${runs[@]}"; do
    case $run in
      */post) rps[$run]+=" $(load "${run%/post}" -s "$tmp/post.lua")" ;;
      *) rps[$run]+=" $(load "$run")" ;;
    esac
  done
done


echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1, $(nproc) CPUs, keep-alive; requests/s, median of $ROUNDS rounds"
printf '%-22s %12s %10s\n' "" "requests/s" "/ hello"
hello=$(median "${rps[hello]}")
for run in "${runs[@]}"; do
  label=$run
  case $run in
    hello) label="hello GET /" ;;
    */post) label="${run%/post} POST /" ;;
    *) label="$run GET /" ;;
  esac
  m=$(median "${rps[$run]}")
  printf '%-22s %12.0f %10s\n' "$label" "$m" "$(ratio "$m" "$hello")"
done
hits=$(curl -fs "http://127.0.0.1:${port[counter-sqlite]}/")
echo "(the embedded counter ended at $hits)"
