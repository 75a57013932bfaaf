#!/usr/bin/env bash
# End to end: FP8 Hugging Face folders (DeepSeek-V3's float8_e4m3fn weights with 128x128 weight_scale_inv
# blocks, written by `whale mkmodel --format hf --type fp8`) load with their matrices kept in FP8, one byte a
# weight, and generate the same greedy tokens and logits as the same folder converted to an f32 GGUF (the
# scales applied once at conversion). Activations are not quantized for FP8, so only summation order differs.
set -euo pipefail
: "${WHALE:?WHALE must point at the whale binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# json_get FILE EXPR: evaluates a JavaScript expression over the parsed JSON `j`.
json_get() { node -e "const j = JSON.parse(require('fs').readFileSync('$1', 'utf8')); console.log($2)"; }

check() {  # check ARCH PRESET
  local arch=$1 preset=$2 dir="$tmp/$1-$2"
  "$WHALE" mkmodel --arch "$arch" --preset "$preset" --format hf --type fp8 --out "$dir" > /dev/null
  "$WHALE" info -m "$dir" --json > "$tmp/info_hf.json"
  local f8_tensors f8_bytes f32_bytes
  f8_tensors=$(json_get "$tmp/info_hf.json" 'j.tensor_types.f8_e4m3 ? j.tensor_types.f8_e4m3.tensors : 0')
  f8_bytes=$(json_get "$tmp/info_hf.json" 'j.tensor_types.f8_e4m3 ? j.tensor_types.f8_e4m3.bytes : 0')
  f32_bytes=$(json_get "$tmp/info_hf.json" 'j.tensor_types.f32.bytes')
  [ "$f8_tensors" -gt 0 ] || fail "$arch $preset: no matrix stayed f8_e4m3"
  # f32 is left to norms, biases and the block scales: no matrix was dequantized into an f32 copy.
  [ $((f32_bytes * 20)) -lt "$f8_bytes" ] || fail "$arch $preset: $f32_bytes f32 bytes next to $f8_bytes f8 bytes"

  "$WHALE" convert "$dir" "$tmp/f32.gguf" --type f32 > /dev/null
  "$WHALE" info -m "$tmp/f32.gguf" --json > "$tmp/info_gguf.json"
  [ "$(json_get "$tmp/info_gguf.json" '!j.tensor_types.f8_e4m3')" = true ] || fail "$arch $preset: GGUF holds f8"
  [ "$(json_get "$tmp/info_gguf.json" 'j.parameters')" = "$(json_get "$tmp/info_hf.json" 'j.parameters')" ] ||
    fail "$arch $preset: parameter counts differ between the folder and its conversion"

  for model in "$dir" "$tmp/f32.gguf"; do
    "$WHALE" run -m "$model" --raw -p "The quick brown fox" --temp 0 -n 12 -t 1 --json \
      --logits-out "$model.logits" > "$model.json"
  done
  [ "$(json_get "$dir.json" 'JSON.stringify(j.tokens)')" = "$(json_get "$tmp/f32.gguf.json" 'JSON.stringify(j.tokens)')" ] ||
    fail "$arch $preset: greedy tokens differ between FP8 and f32"
  local diff
  diff=$(node -e "
    const fs = require('fs');
    const read = (p) => { const b = fs.readFileSync(p); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
    const a = read('$dir.logits'), b = read('$tmp/f32.gguf.logits');
    let d = a.length === b.length ? 0 : Infinity;
    for (let i = 0; i < a.length; ++i) d = Math.max(d, Math.abs(a[i] - b[i]));
    console.log(d);")
  node -e "process.exit($diff < 1e-4 ? 0 : 1)" || fail "$arch $preset: logits differ by $diff"
  echo "$arch $preset: fp8 folder ($f8_tensors f8 tensors, $f8_bytes bytes) vs f32 GGUF: same tokens, max |logit diff| $diff"
}

check qwen2 tiny
check deepseek2 tiny-v3
