#!/usr/bin/env bash
# `whale mkmodel --type SCHEME` (the benchmark models, written at a quantization mix without a full-precision
# file in between) must give the same model as writing f32 and running `whale quantize` on it: same tensor
# types, bit-identical logits. `--no-mtp` leaves out DeepSeek-V3's multi-token-prediction block, and an
# unknown type is refused with the list of known ones.
set -euo pipefail
WHALE=${WHALE:-build/whale}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

logits() {  # model -> file with the logits after a fixed prompt
  "$WHALE" run -m "$1" --prompt-tokens '[1, 2, 3, 4, 5, 6, 7, 8]' -n 1 --temp 0 --json --ctx 32 --threads 1 \
    --logits-out "$2" > /dev/null
}

for arch_preset in "qwen2 tiny" "deepseek2 tiny-v3"; do
  set -- $arch_preset
  for scheme in q4_k_m q4_0; do
    "$WHALE" mkmodel --arch "$1" --preset "$2" --type f32 --seed 5 --out "$dir/f32.gguf" > /dev/null
    "$WHALE" quantize "$dir/f32.gguf" "$dir/quantized.gguf" --type "$scheme" > /dev/null
    "$WHALE" mkmodel --arch "$1" --preset "$2" --type "$scheme" --seed 5 --out "$dir/direct.gguf" > /dev/null
    logits "$dir/quantized.gguf" "$dir/a.bin"
    logits "$dir/direct.gguf" "$dir/b.bin"
    cmp -s "$dir/a.bin" "$dir/b.bin" || fail "$2 $scheme: mkmodel and quantize give different logits"
    echo "ok $2 $scheme: mkmodel --type $scheme matches mkmodel f32 + quantize"
  done
done

"$WHALE" mkmodel --arch deepseek2 --preset tiny-v3 --type q8_0 --out "$dir/mtp.gguf" > "$dir/mtp.txt"
"$WHALE" mkmodel --arch deepseek2 --preset tiny-v3 --type q8_0 --no-mtp --out "$dir/no-mtp.gguf" > "$dir/no-mtp.txt"
grep -q nextn "$dir/mtp.gguf" || fail "tiny-v3 has no nextn tensors to leave out"
if grep -q "\.nextn\." "$dir/no-mtp.gguf"; then fail "--no-mtp kept nextn tensors"; fi
logits "$dir/no-mtp.gguf" "$dir/c.bin"
echo "ok --no-mtp: no nextn tensors, the model runs"

if "$WHALE" mkmodel --arch qwen2 --preset tiny --type q3_x --out "$dir/bad.gguf" 2> "$dir/err.txt"; then
  fail "an unknown --type was accepted"
fi
grep -q "q4_k_m" "$dir/err.txt" || fail "the error does not list the known types: $(cat "$dir/err.txt")"
echo "ok unknown type refused: $(head -1 "$dir/err.txt")"
