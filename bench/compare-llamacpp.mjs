#!/usr/bin/env node
// bench/compare-llamacpp.mjs: whale against llama.cpp (node-llama-cpp, CPU build) on the same GGUF files, the
// same thread counts and the same prompt length, in one run. Not part of `make test` (minutes per model).
//
//   node bench/compare-llamacpp.mjs [--whale build/whale] [--dir /tmp/whale-compare] [--prompt 512]
//        [--decode 64] [--threads 1,2] [--models q15-q8_0,q15-q4_k_m,...]
//
// Models are made with `whale mkmodel` (random weights in the real shapes; speed does not depend on values)
// and `whale quantize`, then reused from --dir. For each model and thread count it runs `whale bench --json`
// and times llama.cpp's prompt evaluation and decode in-process, and prints tok/s, the ratios, the GB/s decode
// reaches and its share of the read bandwidth `whale bench --membw` measures.
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {getLlama} from "node-llama-cpp";

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const whale = option("whale", process.env.WHALE ?? "build/whale");
const dir = option("dir", "/tmp/whale-compare");
const promptTokens = Number(option("prompt", "512"));
const decodeTokens = Number(option("decode", "64"));
const threadCounts = option("threads", "1,2").split(",").map(Number);
const wanted = option("models", "q15-q8_0,q15-q4_k_m,v2lite-q4_k_m,v3-q4_k_m").split(",");

// name -> how to make it: `whale mkmodel` shapes, written straight at the wanted type (the q4_k_m ones with
// `whale quantize`'s mix), or `from` another model through `whale quantize`. v3-q4_k_m is DeepSeek-V3's real
// dimensions with one dense and one MoE block (256 experts), without the MTP block neither engine runs here.
const kModels = {
  "q15-q8_0": {make: ["mkmodel", "--arch", "qwen2", "--preset", "r1-distill-qwen-1.5b", "--type", "q8_0"]},
  "q15-q4_k_m": {from: "q15-q8_0", type: "q4_k_m"},
  "v2lite-q4_k_m": {make: ["mkmodel", "--arch", "deepseek2", "--preset", "v2-lite", "--type", "q4_k_m"]},
  "v3-q4_k_m": {make: ["mkmodel", "--arch", "deepseek2", "--preset", "v3-layer", "--no-mtp", "--type", "q4_k_m"]},
  "v3-q8_0": {make: ["mkmodel", "--arch", "deepseek2", "--preset", "v3-layer", "--no-mtp", "--type", "q8_0"]},
};

function run(args) {
  return execFileSync(whale, args, {encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"]});
}

function ensureModel(name) {
  const file = path.join(dir, `${name}.gguf`);
  if (fs.existsSync(file)) return file;
  const spec = kModels[name];
  if (!spec) throw new Error(`unknown model ${name}; known: ${Object.keys(kModels).join(", ")}`);
  if (spec.make) {
    console.error(`making ${file}`);
    run([...spec.make, "--out", file]);
  } else {
    const source = ensureModel(spec.from);
    console.error(`quantizing ${file}`);
    run(["quantize", source, file, "--type", spec.type]);
  }
  return file;
}

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});

async function llamaBench(modelPath, threads) {
  const model = await llama.loadModel({modelPath, useMmap: true});
  const context = await model.createContext({contextSize: promptTokens + decodeTokens + 16, threads,
                                             batchSize: Math.max(promptTokens, 1), flashAttention: false});
  const sequence = context.getSequence();
  // Ordinary token ids below 1000 (whale bench uses its own spread of ids; speed does not depend on them).
  const prompt = Array.from({length: promptTokens}, (_, i) => (i * 7919 + 13) % 1000);
  // Warm-up (page faults and first allocations), then the measured prompt and decode.
  await sequence.evaluateWithoutGeneratingNewTokens([1]);
  await sequence.clearHistory();
  let start = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt);
  const promptSeconds = (performance.now() - start) / 1000;
  start = performance.now();
  let generated = 0;
  for await (const token of sequence.evaluate([2], {temperature: 0})) {
    void token;
    if (++generated >= decodeTokens) break;
  }
  const decodeSeconds = (performance.now() - start) / 1000;
  await context.dispose();
  await model.dispose();
  return {prompt: promptTokens / promptSeconds, decode: decodeTokens / decodeSeconds};
}

function whaleBench(modelPath, threads) {
  const out = JSON.parse(run(["bench", "-m", modelPath, "-p", String(promptTokens), "-n", String(decodeTokens),
                              "-t", String(threads), "--json"]));
  return out;
}

fs.mkdirSync(dir, {recursive: true});
const membw = JSON.parse(run(["bench", "--membw", "--json", "-t", String(Math.max(...threadCounts))])).read_gb_per_s;
console.log(`read bandwidth: ${membw.map((g, i) => `${i + 1} thread${i ? "s" : ""} ${g.toFixed(1)} GB/s`).join(", ")}`);
const rows = [];
for (const name of wanted) {
  const file = ensureModel(name);
  for (const threads of threadCounts) {
    const w = whaleBench(file, threads);
    const l = await llamaBench(file, threads);
    const bw = membw[threads - 1];
    rows.push({model: name, threads,
               "whale pp": w.prompt_tokens_per_second.toFixed(1), "llama pp": l.prompt.toFixed(1),
               "pp ratio": (w.prompt_tokens_per_second / l.prompt).toFixed(2),
               "whale tg": w.decode_tokens_per_second.toFixed(2), "llama tg": l.decode.toFixed(2),
               "tg ratio": (w.decode_tokens_per_second / l.decode).toFixed(2),
               "whale GB/s": w.decode_gb_per_s.toFixed(1),
               "whale %bw": (100 * w.decode_gb_per_s / bw).toFixed(0),
               "llama %bw": (100 * l.decode * w.weight_bytes_per_token / 1e9 / bw).toFixed(0),
               "load s": w.load_seconds.toFixed(2), "RSS GB": (w.peak_rss_bytes / 1e9).toFixed(2)});
    console.log(JSON.stringify(rows.at(-1)));
  }
}
console.log(`\nprompt ${promptTokens} tokens, decode ${decodeTokens} tokens (pp/tg in tokens/s)`);
console.table(rows);
// The same rows as a Markdown table, for the README's performance section.
const columns = Object.keys(rows[0] ?? {});
console.log(`\n| ${columns.join(" | ")} |\n| ${columns.map(() => "---").join(" | ")} |`);
for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(" | ")} |`);
