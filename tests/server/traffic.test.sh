#!/usr/bin/env bash
# End-to-end: `whale serve --toy` under traffic. A client that disconnects (streamed or not) frees its slot; two
# concurrent streams both run and answer as they would alone; a full queue answers 429 with Retry-After and a
# waiting stream gets keep-alive comments; API keys guard every endpoint but /health.
source "$WHALE_SOURCE_DIR/tests/server/lib/serve.sh"

# A slow toy (20 ms per step) so that streams overlap and a disconnect happens mid-generation.
start_server traffic --toy --toy-step-ms 20 --parallel 2 --queue 1 --keep-alive-ms 100
# A raw completion never reaches the toy's scripted end: it runs until max_tokens or the client leaves.
long='{"prompt":"x","temperature":1,"seed":1,"max_tokens":100000,"stream":true}'

# Disconnect: curl gives up after 1 s; the slot must be free again within a bounded wait.
curl -s -N --max-time 1 -H 'Content-Type: application/json' -d "$long" "$BASE/v1/completions" >"$WORK/cut.txt" || true
check "disconnected stream had started" "$(grep -c '^data: ' "$WORK/cut.txt" | awk '{print ($1 > 3)}')" 1
running=""
for _ in $(seq 100); do
  running=$(metric whale_running_sequences)
  [ "$running" == "0" ] && break
  sleep 0.05
done
check "slot freed after disconnect" "$running" 0
for _ in $(seq 100); do
  n=$(metric 'whale_requests_total{endpoint="/v1/completions",status="499"}')
  [ -n "$n" ] && break
  sleep 0.05
done
check "disconnect recorded as 499" "$n" 1

# The same for an answer in one body: the server notices the closed connection while generating.
curl -s --max-time 1 -H 'Content-Type: application/json' -d "${long/\"stream\":true/\"stream\":false}" \
  "$BASE/v1/completions" >/dev/null || true
running=""
for _ in $(seq 100); do
  running=$(metric whale_running_sequences)
  [ "$running" == "0" ] && break
  sleep 0.05
done
check "slot freed after a non-streamed disconnect" "$running" 0
for _ in $(seq 100); do
  n=$(metric 'whale_requests_total{endpoint="/v1/completions",status="499"}')
  [ "$n" == "2" ] && break
  sleep 0.05
done
check "non-streamed disconnect recorded as 499" "$n" 2

# Two concurrent streams: both reach the second slot at once (seen in the gauge) and both answer exactly
# what a request alone answers at temperature 0.
alone='{"messages":[{"role":"user","content":"hi"}],"temperature":0,"stream":true}'
post /v1/chat/completions "$alone" "$WORK/alone.txt" -N >/dev/null
node "$WHALE_SOURCE_DIR/tests/server/lib/sse.mjs" "$WORK/alone.txt" >"$WORK/alone.json"
curl -s -N --max-time 60 -H 'Content-Type: application/json' -d "$alone" "$BASE/v1/chat/completions" >"$WORK/a.txt" &
pa=$!
curl -s -N --max-time 60 -H 'Content-Type: application/json' -d "$alone" "$BASE/v1/chat/completions" >"$WORK/b.txt" &
pb=$!
peak=0
for _ in $(seq 200); do
  r=$(metric whale_running_sequences)
  [ "${r:-0}" -gt "$peak" ] && peak=$r
  [ "$peak" -ge 2 ] && break
  sleep 0.02
done
wait $pa $pb
check "two streams ran together" "$peak" 2
for f in a b; do
  node "$WHALE_SOURCE_DIR/tests/server/lib/sse.mjs" "$WORK/$f.txt" >"$WORK/$f.json"
  check "concurrent stream $f content" "$(js "$WORK/$f.json" d.content)" "$(js "$WORK/alone.json" d.content)"
  check "concurrent stream $f reasoning" "$(js "$WORK/$f.json" d.reasoning.length)" "$(js "$WORK/alone.json" d.reasoning.length)"
  check "concurrent stream $f done" "$(js "$WORK/$f.json" d.done_last)" true
done

# Queue full: two running, one waiting (it gets keep-alives), the fourth is refused with 429 + Retry-After.
pids=()
for i in 1 2; do
  curl -s -N --max-time 3 -H 'Content-Type: application/json' -d "$long" "$BASE/v1/completions" >"$WORK/run$i.txt" &
  pids+=($!)
done
for _ in $(seq 100); do [ "$(metric whale_running_sequences)" == "2" ] && break; sleep 0.02; done
curl -s -N --max-time 2 -H 'Content-Type: application/json' -d "$long" "$BASE/v1/completions" >"$WORK/wait.txt" &
pids+=($!)
for _ in $(seq 100); do [ "$(metric whale_queue_depth)" == "1" ] && break; sleep 0.02; done
status=$(post /v1/completions "$long" "$WORK/full.json" -D "$WORK/full.headers")
check "queue full status" "$status" 429
check "queue full retry-after" "$(grep -ci '^retry-after:' "$WORK/full.headers")" 1
check "queue full error type" "$(js "$WORK/full.json" d.error.type)" rate_limit_error
wait "${pids[@]}" || true
check "waiting stream got keep-alives" "$(grep -c '^: keep-alive' "$WORK/wait.txt" | awk '{print ($1 > 0)}')" 1
check "still up" "$(get /health "$WORK/h.json")" 200

# API keys.
printf '# keys\nalice sk-test-alice-0001\n' >"$WORK/keys.txt"
start_server keyed --toy --api-key-file "$WORK/keys.txt"
chat='{"messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":3}'
check "health needs no key" "$(get /health "$WORK/k0.json")" 200
check "missing key" "$(post /v1/chat/completions "$chat" "$WORK/k1.json")" 401
check "missing key type" "$(js "$WORK/k1.json" d.error.type)" authentication_error
check "wrong key" "$(post /v1/chat/completions "$chat" "$WORK/k2.json" -H 'Authorization: Bearer sk-test-alice-0002')" 401
check "models need a key" "$(get /v1/models "$WORK/k3.json")" 401
check "metrics need a key" "$(get /metrics "$WORK/k4.txt")" 401
check "right key" "$(post /v1/chat/completions "$chat" "$WORK/k5.json" -H 'Authorization: Bearer sk-test-alice-0001')" 200
METRIC_AUTH=(-H 'Authorization: Bearer sk-test-alice-0001')
check "per-key requests" "$(metric 'whale_key_requests_total{key="alice"}')" 1
check "per-key completion tokens" "$(metric 'whale_key_tokens_total{key="alice",kind="completion"}')" 3
curl -s "${METRIC_AUTH[@]}" "$BASE/metrics" | grep -c 'sk-test' >"$WORK/leak.txt" || true
check "metrics never show the key" "$(cat "$WORK/leak.txt")" 0
finish
