#!/usr/bin/env bash
# End-to-end: SIGTERM drains `whale serve`. Streams already running and requests already queued finish whole
# while new ones get 503 and /health says "draining"; then the process exits 0. --drain-timeout bounds the
# wait, and a second signal cuts it short; either way the process still exits 0 and the cut stream ends.
source "$WHALE_SOURCE_DIR/tests/server/lib/serve.sh"

summary() { node "$WHALE_SOURCE_DIR/tests/server/lib/sse.mjs" "$1" >"$1.json"; }
# stream_in_background NAME MAX_TOKENS: a streamed completion written to $WORK/NAME.txt; sets STREAM_PID.
stream_in_background() {
  curl -s -N --max-time 60 -H 'Content-Type: application/json' \
    -d "{\"prompt\":\"x\",\"temperature\":1,\"seed\":1,\"max_tokens\":$2,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" \
    "$BASE/v1/completions" >"$WORK/$1.txt" &
  STREAM_PID=$!
}
wait_for_tokens() {
  for _ in $(seq 200); do
    [ "$(grep -c '^data: {' "$WORK/$1.txt" 2>/dev/null)" -ge 3 ] && return
    sleep 0.02
  done
}
# await_exit PID SECONDS: sets EXIT_STATUS to the server's exit status, or "still running". (Not used in $(...):
# only this shell can wait for its own child.)
await_exit() {
  EXIT_STATUS="still running"
  for _ in $(seq $(($2 * 20))); do
    if ! kill -0 "$1" 2>/dev/null; then
      EXIT_STATUS=0
      wait "$1" || EXIT_STATUS=$?
      return
    fi
    sleep 0.05
  done
}

# 1. Drain: one running stream (60 steps of 20 ms) and one queued behind it both finish.
start_server drain --toy --toy-step-ms 20 --parallel 1 --queue 2
pid=${SERVER_PIDS[-1]}
stream_in_background running 60
running_pid=$STREAM_PID
wait_for_tokens running
stream_in_background queued 10
queued_pid=$STREAM_PID
for _ in $(seq 100); do [ "$(metric whale_queue_depth)" == "1" ] && break; sleep 0.02; done
kill -TERM "$pid"
sleep 0.2
check "/health answers 503 while draining" "$(get /health "$WORK/health.json")" 503
check "/health says draining" "$(js "$WORK/health.json" d.status)" draining
check "a new request is refused with 503" \
  "$(post /v1/completions '{"prompt":"x","max_tokens":2}' "$WORK/refused.json")" 503
check "the refusal says why" "$(js "$WORK/refused.json" 'd.error.message.includes("shutting down")')" true
await_exit "$pid" 20
check "the server exits 0 once drained" "$EXIT_STATUS" 0
wait "$running_pid" "$queued_pid" || true
for name in running queued; do
  summary "$WORK/$name.txt"
  check "$name stream ends with [DONE]" "$(js "$WORK/$name.txt.json" d.done_last)" true
  check "$name stream has no error" "$(js "$WORK/$name.txt.json" d.errors.length)" 0
  check "$name stream ran to its length" "$(js "$WORK/$name.txt.json" d.finish_reason)" length
done
check "running stream got all its tokens" "$(js "$WORK/running.txt.json" d.usage.completion_tokens)" 60
check "the log says the drain finished" "$(grep -c 'every request finished' "$WORK/drain.log")" 1

# 2. --drain-timeout: a stream that would run for minutes is cut after the timeout.
start_server timeout --toy --toy-step-ms 20 --parallel 1 --drain-timeout 0.5
pid=${SERVER_PIDS[-1]}
stream_in_background endless 100000
endless_pid=$STREAM_PID
wait_for_tokens endless
kill -TERM "$pid"
await_exit "$pid" 10
check "the server exits 0 after the drain timeout" "$EXIT_STATUS" 0
wait "$endless_pid" || true
summary "$WORK/endless.txt"
check "the cut stream ends with [DONE]" "$(js "$WORK/endless.txt.json" d.done_last)" true
check "the cut stream says the server is shutting down" \
  "$(js "$WORK/endless.txt.json" 'd.errors.length === 1 && d.errors[0].message.includes("shutting down")')" true
check "the log names the timeout" "$(grep -c 'drain timeout' "$WORK/timeout.log")" 1

# 3. A second signal stops at once, long before the default 30 s drain timeout.
start_server twice --toy --toy-step-ms 20 --parallel 1
pid=${SERVER_PIDS[-1]}
stream_in_background twice 100000
twice_pid=$STREAM_PID
wait_for_tokens twice
kill -TERM "$pid"
sleep 0.3
kill -INT "$pid"
await_exit "$pid" 5
check "a second signal stops the server within 5 s" "$EXIT_STATUS" 0
wait "$twice_pid" || true
check "the log names the second signal" "$(grep -c 'second signal' "$WORK/twice.log")" 1

finish
