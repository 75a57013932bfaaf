#!/usr/bin/env bash
# `whale bench` end to end on a tiny model: the JSON report has the fields the comparison script reads, the
# speeds are positive, and weight bytes per token match the file's tensors (a tiny qwen2 with an untied head:
# everything but the embedding table is read per token, so the count sits between 10% and 100% of the file).
# Also `whale bench --membw` on a small buffer, every ISA level through WHALE_ISA gives a result, and --mmap
# (weights from the file map instead of the huge-page copy) gives the same logits.
set -euo pipefail
WHALE=${WHALE:-build/whale}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model="$dir/tiny.gguf"
"$WHALE" mkmodel --arch qwen2 --preset tiny --type q8_0 --seed 1 --out "$model" > /dev/null
for isa in scalar avx2 avx512; do
  WHALE_ISA=$isa "$WHALE" bench -m "$model" -p 16 -n 4 -t 2 --json > "$dir/$isa.json"
done
"$WHALE" bench --membw --membw-mib 16 -t 2 --json > "$dir/membw.json"
node -e '
const fs = require("fs");
const [dir, model] = process.argv.slice(1);
const file = fs.statSync(model).size;
for (const isa of ["scalar", "avx2", "avx512"]) {
  const j = JSON.parse(fs.readFileSync(`${dir}/${isa}.json`, "utf8"));
  console.log(`${isa} (ran ${j.isa}): prompt ${j.prompt_tokens_per_second.toFixed(1)} tok/s, decode ${j.decode_tokens_per_second.toFixed(1)} tok/s, ${j.weight_bytes_per_token} bytes/token`);
  for (const k of ["prompt_tokens_per_second", "decode_tokens_per_second", "decode_gb_per_s", "read_bandwidth_gb_per_s", "peak_rss_bytes"]) {
    if (!(j[k] > 0)) { console.error(`${isa}: ${k} = ${j[k]}, expected > 0`); process.exit(1); }
  }
  if (!(j.weight_bytes_per_token > 0.1 * file && j.weight_bytes_per_token < file)) {
    console.error(`${isa}: weight_bytes_per_token ${j.weight_bytes_per_token} not within (10%, 100%) of the file (${file})`);
    process.exit(1);
  }
  if (isa === "scalar" && j.isa !== "scalar") { console.error("WHALE_ISA=scalar was not honoured"); process.exit(1); }
}
const m = JSON.parse(fs.readFileSync(`${dir}/membw.json`, "utf8"));
if (m.read_gb_per_s.length !== 2 || !m.read_gb_per_s.every((g) => g > 0)) { console.error("membw: " + JSON.stringify(m)); process.exit(1); }
console.log(`membw: ${m.read_gb_per_s.map((g) => g.toFixed(1)).join(", ")} GB/s`);
' "$dir" "$model"

# Weights copied into huge pages (the default) and used from the file's map (--mmap) give the same logits,
# and bench takes --mmap too.
for mode in "" --mmap; do
  "$WHALE" run -m "$model" $mode --prompt-tokens '[1, 2, 3, 4]' -n 1 --temp 0 --json --ctx 16 --threads 1 \
    --logits-out "$dir/logits$mode.bin" > /dev/null
done
cmp -s "$dir/logits.bin" "$dir/logits--mmap.bin" || { echo "FAIL: --mmap changes the logits" >&2; exit 1; }
"$WHALE" bench -m "$model" --mmap -p 4 -n 2 -t 1 --json > /dev/null
echo "ok: copied and mapped weights give the same logits"
