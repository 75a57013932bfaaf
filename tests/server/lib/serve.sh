# Helpers for the server's end-to-end tests (sourced, not run): start `whale serve` on a free loopback port,
# always kill it at exit, call endpoints with curl and read JSON with node.
set -euo pipefail
: "${WHALE:?WHALE must point at the whale binary}"

WORK=$(mktemp -d)
SERVER_PIDS=()
FAILURES=0

cleanup() {
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true  # a server that ignores SIGTERM for 10 s must not hang the suite
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME ARGS...: runs `whale serve --port 0 ARGS`, waits (at most 60 s) for it to listen and sets
# PORT and BASE. The log is $WORK/NAME.log.
start_server() {
  local name=$1
  shift
  "$WHALE" serve --port 0 "$@" 2>"$WORK/$name.log" &
  SERVER_PIDS+=($!)
  local pid=$!
  PORT=""
  for _ in $(seq 600); do
    PORT=$(grep -o 'on http://127\.0\.0\.1:[0-9]*' "$WORK/$name.log" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$PORT" ]; then
    echo "server $name did not start:"
    cat "$WORK/$name.log"
    exit 1
  fi
  BASE="http://127.0.0.1:$PORT"
}

# post PATH BODY OUT [CURL ARGS...]: POSTs JSON, writes the body to OUT, prints the status code.
post() {
  local path=$1 body=$2 out=$3
  shift 3
  curl -s --max-time 60 -o "$out" -w '%{http_code}' -H 'Content-Type: application/json' "$@" -d "$body" "$BASE$path"
}

# get PATH OUT [CURL ARGS...]
get() {
  local path=$1 out=$2
  shift 2
  curl -s --max-time 60 -o "$out" -w '%{http_code}' "$@" "$BASE$path"
}

# js FILE EXPR: evaluates EXPR with d = the JSON in FILE.
js() {
  node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = eval(process.argv[2]);
           console.log(typeof v === "string" ? v : JSON.stringify(v));' "$1" "$2"
}

# check NAME ACTUAL EXPECTED
check() {
  if [ "$2" == "$3" ]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected [$3], got [$2]"
    FAILURES=$((FAILURES + 1))
  fi
}

# metric NAME_WITH_LABELS: its value from /metrics (empty when absent).
metric() {
  curl -s --max-time 10 "${METRIC_AUTH[@]}" "$BASE/metrics" | awk -v name="$1" 'index($0, name " ") == 1 {print $2; exit}' || true
}
METRIC_AUTH=()

finish() {
  if [ "$FAILURES" -gt 0 ]; then
    for log in "$WORK"/*.log; do
      echo "--- $log"
      tail -n 30 "$log"
    done
    echo "$FAILURES check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}
