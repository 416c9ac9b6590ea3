# Sourced by the bench scripts, from the repository root: a temporary
# directory $tmp, and the array pids for the servers a script starts;
# on exit every one of them is killed and $tmp removed.
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# need TOOL... fails, naming the first of the tools that is missing.
need() {
  for tool; do
    command -v "$tool" >/dev/null || { echo "$(basename "$0" .sh): $tool is not installed (scripts/install-toolchains)" >&2; exit 1; }
  done
}

# The wrk load of the scripts that source this: THREADS, CONNECTIONS and
# DURATION, set by the script.

# await URL waits (up to 30 s) until URL answers, then warms its server up
# with 2 s of wrk; it fails when URL never answers.
await() {
  for _ in $(seq 300); do
    curl -fs "$1" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "$1" >/dev/null || { echo "bench: $1 does not answer" >&2; return 1; }
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$1" >/dev/null
}

# rps URL [wrk args...] prints the requests/s wrk measured on URL; a
# count of non-2xx answers goes to stderr.
rps() {
  local url=$1; shift
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "$url" |
    awk '/^Requests\/sec:/ {print $2} /Non-2xx/ {print "bench: " $0 > "/dev/stderr"}'
}

# median "V1 V2 ..." prints the median of the numbers.
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# ratio A B prints A / B to two places.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
