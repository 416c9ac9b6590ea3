#!/usr/bin/env bash
# Soak on 127.0.0.1, bounded in time: serves the hello example with
# --workers 2 from this tree and from BASE (default main), then
#
#  1. loads both with wrk in alternating rounds: what the request path
#     costs now against BASE, as a ratio of requests/s;
#  2. loads this tree's server with wrk alone, then again while
#     bench/attack holds slowloris, slow-body, slow-reader and 10,000 idle
#     connections against it, then alone again: throughput under attack
#     as a ratio of the mean throughput without (goal >= 0.8), and the
#     workers' fds and RSS before the attack and after it ended.
#
#   bench/soak.sh
#   ROUNDS=5 DURATION=10s IDLE=10000 BASE=main bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
BASE=${BASE:-main}
IDLE=${IDLE:-10000}
SLOW=${SLOW:-100}

ulimit -n 30000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. bench/lib.sh # $tmp and pids, cleaned up on exit
need wrk

go build -o "$tmp/wasmcluster" ./cmd/wasmcluster
go build -o "$tmp/attack" ./bench/attack
mkdir "$tmp/base"
git archive "$BASE" | tar -x -C "$tmp/base"
(cd "$tmp/base" && go build -o "$tmp/wasmcluster-base" ./cmd/wasmcluster)
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/hello.wasm" ./examples/hello-wasm/go-exchange

serve() { # BINARY PORT ADMIN
  "$1" serve --log-level error --workers 2 --listen "127.0.0.1:$2" --admin "127.0.0.1:$3" "$tmp/hello.wasm" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$2/" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "soak: server on $2 did not start" >&2; exit 1
}
serve "$tmp/wasmcluster" 18281 18291
serve "$tmp/wasmcluster-base" 18282 18292

rps() { wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

echo "== 1. request path: this tree against $BASE, $ROUNDS rounds of $DURATION, $CONNECTIONS connections"
: >"$tmp/this" ; : >"$tmp/base.rps"
for _ in $(seq "$ROUNDS"); do
  rps 18281 >>"$tmp/this"
  rps 18282 >>"$tmp/base.rps"
done
this=$(median <"$tmp/this"); base=$(median <"$tmp/base.rps")
echo "rounds, this tree: $(tr '\n' ' ' <"$tmp/this")  $BASE: $(tr '\n' ' ' <"$tmp/base.rps")"
echo "this tree: $this req/s   $BASE: $base req/s   ratio of medians: $(ratio "$this" "$base")"

workers() { # report fds and RSS of this tree's workers
  for pid in $(curl -fs http://127.0.0.1:18291/workers | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$'); do
    printf "  worker %s: %s fds, RSS %s kB\n" "$pid" "$(ls /proc/"$pid"/fd | wc -l)" "$(awk '/VmRSS/ {print $2}' /proc/"$pid"/status)"
  done
}

echo "== 2. under attack: $SLOW each of slowloris, slow body, slow reader; $IDLE idle connections"
echo "before:"; workers
calm=$(rps 18281)
secs=${DURATION%s}
"$tmp/attack" -addr 127.0.0.1:18281 -slowloris "$SLOW" -slow-body "$SLOW" -slow-read "$SLOW" -idle "$IDLE" \
  -duration "$((secs + 20))s" &
attack=$!
pids+=($attack)
sleep 10 # the attack in place
echo "during:"; workers
attacked=$(rps 18281)
kill "$attack"; wait "$attack" 2>/dev/null || true
sleep 15 # the attack's connections close
echo "after:"; workers
calm2=$(rps 18281) # again, after: the machine's own drift shows
mean=$(awk -v a="$calm" -v b="$calm2" 'BEGIN {printf "%.2f", (a+b)/2}')
echo "without attack: $calm req/s before, $calm2 after   under attack: $attacked req/s"
echo "ratio to the mean without: $(ratio "$attacked" "$mean") (goal >= 0.8)"
