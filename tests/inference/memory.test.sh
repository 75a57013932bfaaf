#!/usr/bin/env bash
# Weights stay memory-mapped: on a model of about 1.6 GB (the R1-Distill-Qwen-1.5B shape, f32, tied
# embeddings, 4 blocks), the peak resident memory of `whale run` while generating stays under the file size
# plus the KV cache plus 10%, and is at least 90% of the file size (so the weights were really read). Under the
# sanitizers (WHALE_SANITIZED=1) their shadow memory and quarantine come on top, so only the lower bound holds.
set -euo pipefail
WHALE=${WHALE:-build/whale}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model="$dir/qwen2-1.5b-shape.gguf"
"$WHALE" mkmodel --arch qwen2 --preset r1-distill-qwen-1.5b --layers 4 --tie-embeddings --type f32 --seed 3 \
  --out "$model" > /dev/null
"$WHALE" run -m "$model" --prompt-tokens '[785, 3974, 13876, 38835, 34208, 916, 279, 15678]' --temp 0 -n 8 \
  --ctx 256 --threads 2 --json > "$dir/out.json"
node -e '
const fs = require("fs");
const out = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const m = out.memory;
const file = m.model_file_bytes, kv = m.kv_cache_bytes, peak = m.peak_rss_bytes;
const limit = (file + kv) * 1.1;
const mib = (b) => (b / 1048576).toFixed(1) + " MiB";
console.log(`file ${mib(file)}, kv cache ${mib(kv)}, peak rss ${mib(peak)}, limit ${mib(limit)}, tokens ${out.tokens.length}`);
if (out.tokens.length !== 8) { console.error("expected 8 generated tokens"); process.exit(1); }
if (file < 1e9) { console.error("model smaller than intended"); process.exit(1); }
if (!(peak > 0.9 * file)) { console.error("peak rss below 90% of the file: weights not read?"); process.exit(1); }
if (process.argv[2] === "1") { console.log("sanitized build: upper bound not checked"); process.exit(0); }
if (!(peak < limit)) { console.error("peak rss above file + kv cache + 10%"); process.exit(1); }
' "$dir/out.json" "${WHALE_SANITIZED:-0}"
