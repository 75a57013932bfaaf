#!/usr/bin/env bash
# End-to-end: `whale serve --toy` over curl. Response shapes, reasoning split, usage arithmetic, streaming
# framing, stop strings, prefix-cache hits, errors by status, and metrics. The toy model's scripted answer
# (src/server/toy_engine.cpp) is "<think>\n" + THOUGHT + "\n</think>\n\n" + ANSWER, one token per byte, after a
# prompt of one role token + content bytes per message + <|assistant|> + "<think>\n" (8 bytes).
source "$WHALE_SOURCE_DIR/tests/server/lib/serve.sh"

# A missing model is a clear error, not a crash.
set +e
"$WHALE" serve -m "$WORK/no-such-model.gguf" --port 0 2>"$WORK/missing.txt"
code=$?
set -e
check "missing model exit code" "$code" 1
check "missing model message" "$(grep -c 'no-such-model.gguf: no such model file' "$WORK/missing.txt")" 1

export THOUGHT='The user wants an answer. Let me think step by step.'
ANSWER='Hello from the toy model!'
start_server api --toy --parallel 2 --ctx 128

status=$(get /health "$WORK/h.json")
check "health status" "$status" 200
check "health body" "$(js "$WORK/h.json" d.status)" ok

check "web page at /" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$BASE/")" "200 text/html; charset=utf-8"
status=$(get /v1/models "$WORK/m.json")
check "models status" "$status" 200
check "models id" "$(js "$WORK/m.json" d.data[0].id)" whale-toy

# Non-streaming chat: reasoning_content beside content, usage adds up.
body='{"model":"whale-toy","messages":[{"role":"user","content":"hi"}],"temperature":0}'
status=$(post /v1/chat/completions "$body" "$WORK/c1.json")
check "chat status" "$status" 200
check "chat object" "$(js "$WORK/c1.json" d.object)" chat.completion
check "chat reasoning" "$(js "$WORK/c1.json" 'JSON.stringify(d.choices[0].message.reasoning_content)')" \
  "$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$THOUGHT")"
check "chat content" "$(js "$WORK/c1.json" d.choices[0].message.content)" "$ANSWER"
check "chat finish" "$(js "$WORK/c1.json" d.choices[0].finish_reason)" stop
prompt_tokens=$((1 + 2 + 1 + 8))
completion_tokens=$((${#THOUGHT} + 1 + 8 + 2 + ${#ANSWER}))  # thought, "\n</think>\n\n", answer
check "usage prompt_tokens" "$(js "$WORK/c1.json" d.usage.prompt_tokens)" $prompt_tokens
check "usage completion_tokens" "$(js "$WORK/c1.json" d.usage.completion_tokens)" $completion_tokens
check "usage total_tokens" "$(js "$WORK/c1.json" d.usage.total_tokens)" $((prompt_tokens + completion_tokens))
check "usage reasoning_tokens" "$(js "$WORK/c1.json" d.usage.completion_tokens_details.reasoning_tokens)" $((${#THOUGHT} + 1 + 8))
check "usage hit+miss=prompt" "$(js "$WORK/c1.json" 'd.usage.prompt_cache_hit_tokens + d.usage.prompt_cache_miss_tokens')" $prompt_tokens
check "usage cached_tokens mirrors hits" "$(js "$WORK/c1.json" 'd.usage.prompt_tokens_details.cached_tokens === d.usage.prompt_cache_hit_tokens')" true

# A multi-turn follow-up shares the first turn's prefix: the cache reports it.
turn2='{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hello","reasoning_content":"ignored"},{"role":"user","content":"again"}],"temperature":0}'
post /v1/chat/completions "$turn2" "$WORK/c2.json" >/dev/null
post /v1/chat/completions "$turn2" "$WORK/c3.json" >/dev/null
turn2_prompt=$((1 + 2 + 1 + 5 + 1 + 5 + 1 + 8))
check "turn2 prompt_tokens (reasoning_content not fed back)" "$(js "$WORK/c3.json" d.usage.prompt_tokens)" $turn2_prompt
check "repeat hits all but the last token" "$(js "$WORK/c3.json" d.usage.prompt_cache_hit_tokens)" $((turn2_prompt - 1))
check "repeat misses one" "$(js "$WORK/c3.json" d.usage.prompt_cache_miss_tokens)" 1
check "repeat same answer" "$(js "$WORK/c3.json" d.choices[0].message.content)" "$ANSWER"

# Streaming with usage: reasoning deltas first, then content, finish chunk, usage chunk, [DONE].
body='{"messages":[{"role":"user","content":"hi"}],"temperature":0,"stream":true,"stream_options":{"include_usage":true}}'
status=$(post /v1/chat/completions "$body" "$WORK/s1.txt" -N)
check "stream status" "$status" 200
node "$WHALE_SOURCE_DIR/tests/server/lib/sse.mjs" "$WORK/s1.txt" >"$WORK/s1.json"
check "stream framing" "$(js "$WORK/s1.json" 'd.framing_errors.length')" 0
check "stream ends with [DONE]" "$(js "$WORK/s1.json" d.done_last)" true
check "stream role first" "$(js "$WORK/s1.json" 'd.roles.join()')" assistant
check "stream reasoning" "$(js "$WORK/s1.json" 'd.reasoning === process.env.THOUGHT')" true
check "stream content" "$(js "$WORK/s1.json" d.content)" "$ANSWER"
check "stream order" "$(js "$WORK/s1.json" d.reasoning_after_content)" false
check "stream finish" "$(js "$WORK/s1.json" d.finish_reason)" stop
check "stream usage" "$(js "$WORK/s1.json" d.usage.completion_tokens)" $completion_tokens
check "stream one id" "$(js "$WORK/s1.json" d.ids)" 1
check "stream usage chunk has no choices" "$(tail -c 600 "$WORK/s1.txt" | grep -c '"choices":\[\],')" 1

# Stop strings cut the answer, not the thought.
body='{"messages":[{"role":"user","content":"hi"}],"temperature":0,"stop":["from","zzz"]}'
post /v1/chat/completions "$body" "$WORK/stop.json" >/dev/null
check "stop content" "$(js "$WORK/stop.json" 'JSON.stringify(d.choices[0].message.content)')" '"Hello "'
check "stop finish" "$(js "$WORK/stop.json" d.choices[0].finish_reason)" stop
check "stop keeps thought" "$(js "$WORK/stop.json" 'd.choices[0].message.reasoning_content === process.env.THOUGHT')" true
body='{"messages":[{"role":"user","content":"hi"}],"temperature":0,"stop":"from","stream":true}'
post /v1/chat/completions "$body" "$WORK/stop.txt" -N >/dev/null
node "$WHALE_SOURCE_DIR/tests/server/lib/sse.mjs" "$WORK/stop.txt" >"$WORK/stop-s.json"
check "stream stop content" "$(js "$WORK/stop-s.json" 'JSON.stringify(d.content)')" '"Hello "'

# max_tokens ends with finish_reason length.
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":5}' "$WORK/len.json" >/dev/null
check "length finish" "$(js "$WORK/len.json" d.choices[0].finish_reason)" length
check "length tokens" "$(js "$WORK/len.json" d.usage.completion_tokens)" 5
check "length reasoning so far" "$(js "$WORK/len.json" d.choices[0].message.reasoning_content)" "The u"

# Raw completions continue the prompt bytes; no reasoning split.
post /v1/completions '{"prompt":"abc","max_tokens":3,"temperature":0,"logprobs":2}' "$WORK/t.json" >/dev/null
check "completion object" "$(js "$WORK/t.json" d.object)" text_completion
check "completion tokens" "$(js "$WORK/t.json" d.usage.completion_tokens)" 3
check "completion text length" "$(js "$WORK/t.json" d.choices[0].text.length)" 3
check "completion logprobs" "$(js "$WORK/t.json" 'd.choices[0].logprobs.tokens.join("") === d.choices[0].text && d.choices[0].logprobs.top_logprobs[0] !== undefined')" true
post /v1/completions '{"prompt":"abc","max_tokens":4,"temperature":0,"stream":true}' "$WORK/t.txt" -N >/dev/null
node "$WHALE_SOURCE_DIR/tests/server/lib/sse.mjs" "$WORK/t.txt" >"$WORK/t-s.json"
check "completion stream text" "$(js "$WORK/t-s.json" d.content.length)" 4

# Chat logprobs: one entry per generated token, top alternatives sorted.
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":4,"logprobs":true,"top_logprobs":2}' "$WORK/lp.json" >/dev/null
check "logprobs entries" "$(js "$WORK/lp.json" d.choices[0].logprobs.content.length)" 4
check "logprobs top sorted" "$(js "$WORK/lp.json" 'd.choices[0].logprobs.content.every(e => e.top_logprobs.length === 2 && e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob && e.logprob <= 0)')" true

# Errors: status, OpenAI error shape, the field named.
expect_error() {  # NAME BODY STATUS PARAM
  local status
  status=$(post /v1/chat/completions "$2" "$WORK/e.json")
  check "$1 status" "$status" "$3"
  check "$1 param" "$(js "$WORK/e.json" 'String(d.error.param)')" "$4"
  check "$1 has message" "$(js "$WORK/e.json" 'd.error.message.length > 0 && typeof d.error.type === "string"')" true
}
expect_error "malformed json" '{"messages": [' 400 null
expect_error "not an object" '[1,2]' 400 null
expect_error "missing messages" '{"model":"x"}' 400 messages
expect_error "empty messages" '{"messages":[]}' 422 messages
expect_error "unknown role" '{"messages":[{"role":"wizard","content":"x"}]}' 422 'messages[0].role'
expect_error "wrong type" '{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}' 422 temperature
expect_error "bad max_tokens" '{"messages":[{"role":"user","content":"x"}],"max_tokens":-1}' 422 max_tokens
long=$(printf 'x%.0s' $(seq 200))
expect_error "over-long prompt" "{\"messages\":[{\"role\":\"user\",\"content\":\"$long\"}]}" 400 messages
check "over-long says by how much" "$(js "$WORK/e.json" 'd.error.message.includes("by " + (1 + 200 + 1 + 8 - 128))')" true
status=$(get /v1/nothing "$WORK/404.json")
check "unknown path" "$status" 404
check "unknown path json" "$(js "$WORK/404.json" 'typeof d.error.message')" string
check "still up" "$(get /health "$WORK/h2.json")" 200

# Metrics: requests by status, tokens, cache hits, gauges, histograms.
curl -s "$BASE/metrics" >"$WORK/metrics.txt"
grep -q '^whale_requests_total{endpoint="/v1/chat/completions",status="422"} 4$' "$WORK/metrics.txt" && r=1 || r=0
check "metrics 422 count" "$r" 1
check "metrics cache hits" "$(awk '/^whale_prompt_cache_hit_tokens_total /{print ($2 > 0)}' "$WORK/metrics.txt")" 1
check "metrics running gauge" "$(awk '/^whale_running_sequences /{print $2}' "$WORK/metrics.txt")" 0
check "metrics ttft histogram" "$(grep -c '^whale_time_to_first_token_seconds_count' "$WORK/metrics.txt")" 1
check "metrics itl histogram" "$(grep -c '^whale_inter_token_latency_seconds_bucket' "$WORK/metrics.txt")" 12
check "one log line per request" "$(grep -c '^request chatcmpl-' "$WORK/api.log")" "$(awk '/^whale_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\}/{print $2}' "$WORK/metrics.txt")"
grep -q 'status=200 prompt=12 cached=' "$WORK/api.log" && r=1 || r=0
check "log line fields" "$r" 1
# response_format json_object: the chain of thought is untouched, the answer is held to JSON. Over a few seeds,
# every answer that ends by itself parses as an object, and every other one is cut by max_tokens.
objects=0
for seed in 1 2 3 4 5 6; do
  body="{\"messages\":[{\"role\":\"user\",\"content\":\"Reply in JSON.\"}],\"response_format\":{\"type\":\"json_object\"},\"temperature\":1,\"seed\":$seed,\"max_tokens\":100}"
  post /v1/chat/completions "$body" "$WORK/json$seed.json" >/dev/null
  verdict=$(js "$WORK/json$seed.json" '(() => { const c = d.choices[0]; if (c.finish_reason !== "stop") return c.finish_reason === "length" && c.message.content.trimStart().startsWith("{") ? "cut" : "bad"; try { const v = JSON.parse(c.message.content); return typeof v === "object" && !Array.isArray(v) && v !== null ? "object" : "bad"; } catch (e) { return "bad"; } })()')
  check "json_object seed $seed" "$([ "$verdict" != bad ] && echo good || echo "$verdict")" good
  [ "$verdict" == object ] && objects=$((objects + 1))
  check "json_object keeps the reasoning $seed" "$(js "$WORK/json$seed.json" 'd.choices[0].message.reasoning_content.startsWith("The user wants")')" true
done
check "some json_object answers complete" "$([ $objects -gt 0 ] && echo yes)" yes

finish
