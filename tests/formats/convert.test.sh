#!/usr/bin/env bash
# End to end: `whale convert` on tiny Hugging Face folders (written by make_tiny_hf.mjs with the real tokenizer
# files) and `whale info` on the results; bad flags and bad inputs must fail with a message.
set -euo pipefail
: "${WHALE:?WHALE must point at the whale binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# json_get FILE EXPR: evaluates a JavaScript expression over the parsed JSON `j`.
json_get() { node -e "const j = JSON.parse(require('fs').readFileSync('$1', 'utf8')); console.log($2)"; }

for arch in qwen2 qwen3 llama deepseek_v3; do
  node tests/formats/make_tiny_hf.mjs "$arch" "$tmp/$arch"
done

# qwen3 as bf16: 2 layers; f32 are output_norm + per layer attn_norm, ffn_norm, attn_q_norm, attn_k_norm (9),
# bf16 are token_embd (tied: no output.weight) + per layer q, k, v, output, gate, up, down (15).
"$WHALE" convert "$tmp/qwen3" "$tmp/qwen3.gguf" --type bf16 > "$tmp/out.txt"
grep -q "qwen3" "$tmp/out.txt" || fail "convert did not report the architecture"
"$WHALE" info -m "$tmp/qwen3.gguf" --json > "$tmp/info.json"
[ "$(json_get "$tmp/info.json" 'j.architecture')" = qwen3 ] || fail "qwen3 architecture"
[ "$(json_get "$tmp/info.json" 'j.format')" = gguf ] || fail "format"
[ "$(json_get "$tmp/info.json" 'j.tensor_types.f32.tensors')" = 9 ] || fail "qwen3 f32 tensors"
[ "$(json_get "$tmp/info.json" 'j.tensor_types.bf16.tensors')" = 15 ] || fail "qwen3 bf16 tensors"
[ "$(json_get "$tmp/info.json" 'j.context_length')" = 40960 ] || fail "qwen3 context length"
[ "$(json_get "$tmp/info.json" 'j.chat_template.present')" = true ] || fail "qwen3 chat template"
# Parameters: vocab 151936 x 32 embedding + 2 x (q 24x32 + k 12x32 + v 12x32 + o 32x24 + 3 x 32x32 + norms)
# + output norm 32.
expected=$((151936 * 32 + 2 * (24 * 32 + 12 * 32 + 12 * 32 + 32 * 24 + 3 * 32 * 32 + 32 + 32 + 12 + 12) + 32))
[ "$(json_get "$tmp/info.json" 'j.parameters')" = "$expected" ] || fail "qwen3 parameter count"

# The same model read straight from the folder gives the same numbers.
"$WHALE" info -m "$tmp/qwen3" --json > "$tmp/info_hf.json"
[ "$(json_get "$tmp/info_hf.json" 'j.format')" = huggingface ] || fail "HF format"
[ "$(json_get "$tmp/info_hf.json" 'j.parameters')" = "$expected" ] || fail "HF parameter count"

# q8_0: matrices whose rows are multiples of 32 are q8_0; rope_freqs (llama3 scaling) and norms stay f32.
"$WHALE" convert "$tmp/llama" "$tmp/llama.gguf" -t q8_0 > /dev/null
"$WHALE" info -m "$tmp/llama.gguf" --json > "$tmp/info.json"
[ "$(json_get "$tmp/info.json" 'j.tensor_types.q8_0.tensors')" = 16 ] || fail "llama q8_0 tensors"
[ "$(json_get "$tmp/info.json" 'j.tensor_types.f32.tensors')" = 6 ] || fail "llama f32 tensors"
"$WHALE" info -m "$tmp/llama.gguf" > "$tmp/info.txt"
grep -q "^architecture: *llama" "$tmp/info.txt" || fail "plain info architecture"
grep -q "^chat template: *yes" "$tmp/info.txt" || fail "plain info template"
grep -q "^weights memory:" "$tmp/info.txt" || fail "plain info memory"

# DeepSeek FP8 folder, with and without the MTP layer.
"$WHALE" convert "$tmp/deepseek_v3" "$tmp/ds.gguf" > /dev/null
"$WHALE" info -m "$tmp/ds.gguf" --json > "$tmp/info.json"
[ "$(json_get "$tmp/info.json" 'j.architecture')" = deepseek2 ] || fail "deepseek architecture"
[ "$(json_get "$tmp/info.json" 'j.block_count')" = 2 ] || fail "deepseek block count"
[ "$(json_get "$tmp/info.json" 'j.expert_count')" = 4 ] || fail "deepseek experts"
"$WHALE" convert "$tmp/deepseek_v3" "$tmp/ds_mtp.gguf" --type f32 --mtp > /dev/null
"$WHALE" info -m "$tmp/ds_mtp.gguf" --json > "$tmp/info.json"
[ "$(json_get "$tmp/info.json" 'j.block_count')" = 3 ] || fail "deepseek MTP block count"
[ "$(json_get "$tmp/info.json" 'Object.keys(j.tensor_types).join()')" = f32 ] || fail "f32 only"

"$WHALE" convert "$tmp/qwen2" "$tmp/qwen2.gguf" --type f32 > /dev/null

# Bad flags: usage errors exit 2 with a message.
expect_status() {  # expect_status CODE PATTERN COMMAND...
  local code=$1 pattern=$2
  shift 2
  set +e
  "$@" > "$tmp/stdout" 2> "$tmp/stderr"
  local status=$?
  set -e
  [ "$status" = "$code" ] || fail "$* exited $status, expected $code"
  grep -qi -- "$pattern" "$tmp/stderr" || fail "$*: stderr lacks '$pattern': $(cat "$tmp/stderr")"
}
expect_status 2 "type" "$WHALE" convert "$tmp/qwen3" "$tmp/x.gguf" --type q4_k
expect_status 2 "output" "$WHALE" convert "$tmp/qwen3"
expect_status 2 "model" "$WHALE" info
expect_status 2 "unexpected\|extra\|not expected" "$WHALE" info -m "$tmp/qwen3.gguf" --frobnicate

# Bad inputs: runtime errors exit 1 naming the problem; no partial output is left behind.
expect_status 1 "no such file or folder" "$WHALE" info -m "$tmp/missing.gguf"
expect_status 1 "expected a Hugging Face model folder" "$WHALE" convert "$tmp/qwen3.gguf" "$tmp/x.gguf"
expect_status 1 "config.json is missing" "$WHALE" convert "$tmp" "$tmp/x.gguf"
expect_status 1 "cannot create" "$WHALE" convert "$tmp/qwen3" "$tmp/no/such/dir/x.gguf"
head -c 100 "$tmp/qwen3.gguf" > "$tmp/cut.gguf"
expect_status 1 "cut.gguf: .*truncated" "$WHALE" info -m "$tmp/cut.gguf"
cp -r "$tmp/qwen3" "$tmp/broken"
node -e "const f='$tmp/broken/config.json'; const fs=require('fs'); const c=JSON.parse(fs.readFileSync(f)); c.num_hidden_layers=1; fs.writeFileSync(f, JSON.stringify(c))"
expect_status 1 "model.layers.1.*config and weights disagree" "$WHALE" convert "$tmp/broken" "$tmp/x.gguf"
[ ! -e "$tmp/x.gguf" ] || fail "a failed convert left $tmp/x.gguf"
ls "$tmp" | grep -q "tmp-" && fail "a temporary file was left behind"
echo "convert/info e2e: ok"
