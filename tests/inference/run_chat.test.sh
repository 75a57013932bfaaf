#!/usr/bin/env bash
# `whale run` and `whale chat` on a tiny random qwen3 model with the real Qwen3 tokenizer and chat template:
# the prompt is the template's rendering (checked against `whale template` + `whale tokenize`), --no-think
# switches the template's reasoning off, --json has its fields, seeds reproduce, a prompt longer than --ctx
# is a clear error, and an interactive chat with /think, /reset and /exit runs to the end.
set -euo pipefail
WHALE=${WHALE:-build/whale}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model="$dir/qwen3.gguf"
"$WHALE" mkmodel --arch qwen3 --preset tiny --type q8_0 --seed 2 --out "$model" > /dev/null
fail() { echo "FAIL: $*" >&2; exit 1; }

# The templated prompt.
echo '[{"role":"user","content":"Hello, whale!"}]' > "$dir/messages.json"
"$WHALE" template -m "$model" --messages "$dir/messages.json" > "$dir/prompt.txt"
expected=$("$WHALE" tokenize -m "$model" < "$dir/prompt.txt")
"$WHALE" run -m "$model" -p "Hello, whale!" --temp 0 -n 8 --json > "$dir/run.json"
"$WHALE" run -m "$model" -p "Hello, whale!" --no-think --temp 0 -n 8 --json > "$dir/nothink.json"
"$WHALE" run -m "$model" -p "Hello, whale!" --temp 1 --seed 9 -n 12 --json > "$dir/seed9a.json"
"$WHALE" run -m "$model" -p "Hello, whale!" --temp 1 --seed 9 -n 12 --json > "$dir/seed9b.json"
"$WHALE" run -m "$model" -p "Hello, whale!" --temp 1 --seed 10 -n 12 --json > "$dir/seed10.json"
node -e '
const fs = require("fs");
const [dir, expected] = process.argv.slice(1);
const read = (name) => JSON.parse(fs.readFileSync(`${dir}/${name}.json`, "utf8"));
const run = read("run"), nothink = read("nothink");
const fail = (m) => { console.error("FAIL: " + m); process.exit(1); };
for (const key of ["reasoning", "content", "tokens", "timings", "finish_reason"]) if (!(key in run)) fail(`--json lacks ${key}`);
if (JSON.stringify(run.prompt_tokens) !== JSON.stringify(JSON.parse(expected))) fail("prompt is not the template rendering");
if (run.tokens.length !== 8 || run.finish_reason !== "length") fail("expected 8 tokens ending on length");
if (run.timings.generated_tokens !== 8) fail("timings.generated_tokens");
// Qwen3 without thinking: the template appends an empty <think></think> block (ids 151667, 151668).
const extra = nothink.prompt_tokens.slice(run.prompt_tokens.length);
if (!extra.includes(151667) || !extra.includes(151668)) fail("--no-think did not add the empty think block");
const a = read("seed9a").tokens, b = read("seed9b").tokens, c = read("seed10").tokens;
if (JSON.stringify(a) !== JSON.stringify(b)) fail("same seed, different tokens");
if (JSON.stringify(a) === JSON.stringify(c)) fail("different seeds, same tokens");
console.log("run: ok");
' "$dir" "$expected"

# A prompt that does not fit the context.
if "$WHALE" run -m "$model" -p "Hello, whale! This prompt is longer than eight tokens." --ctx 8 -n 4 2> "$dir/err.txt"; then
  fail "a prompt longer than --ctx succeeded"
fi
grep -q "context holds 8" "$dir/err.txt" || fail "unclear error: $(cat "$dir/err.txt")"

# Interactive chat: two turns, a reasoning switch, a reset, then exit.
printf 'Hello\n/think off\nAnd again\n/reset\nBye\n/exit\n' |
  "$WHALE" chat -m "$model" --temp 0 -n 6 > "$dir/chat.out" 2> "$dir/chat.err"
grep -q "(reasoning off)" "$dir/chat.err" || fail "chat: /think off not acknowledged: $(cat "$dir/chat.err")"
grep -q "(conversation cleared)" "$dir/chat.err" || fail "chat: /reset not acknowledged"
[ "$(wc -l < "$dir/chat.out")" -ge 3 ] || fail "chat: expected three answers, got: $(cat "$dir/chat.out")"
echo "chat: ok"
