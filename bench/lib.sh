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
