// Oracle: whale against llama.cpp (node-llama-cpp, CPU) on tiny random models of llama, qwen2 and qwen3 in
// F32, F16 and Q8_0 GGUF. For each: the greedy continuation of a fixed prompt (32 tokens) must be identical,
// and the log-probabilities after the prompt must agree within a per-type tolerance (printed as the max abs
// diff). Then the same weights written as a Hugging Face folder (f32, and FP8 with block scales for qwen2)
// must give whale the same tokens and logits as the GGUF, and llama.cpp the same on `whale convert`'s GGUF of
// that folder.
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {getLlama} from "node-llama-cpp";

import {llamaRun as llamaRunOn} from "../lib/llama_oracle.mjs";

const whale = process.env.WHALE ?? "build/whale";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "whale-oracle-"));
const kGenerate = 32;
// Max |log p_whale - log p_llama.cpp| over tokens with p > kMinProb, with llama.cpp's KV cache in f32 like
// whale's (measured: f32 ~4e-4, q8_0 ~5e-4). F16 is looser because llama.cpp rounds the activations to f16
// before F16 dot products (measured ~9e-3).
const kTolerance = {f32: 2e-3, f16: 2e-2, q8_0: 3e-3};
const kMinProb = 1e-6;

function run(args) {
  return execFileSync(whale, args, {encoding: "utf8", maxBuffer: 64 << 20});
}

function logSoftmax(values) {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Array.from(values, (v) => v - lse);
}

function whaleRun(model, prompt) {
  const logitsPath = path.join(dir, "logits.bin");
  const out = JSON.parse(run(["run", "-m", model, "--prompt-tokens", JSON.stringify(prompt), "--temp", "0",
                              "-n", String(kGenerate), "--json", "--threads", "2", "--logits-out", logitsPath]));
  const buf = fs.readFileSync(logitsPath);
  const logits = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  return {tokens: out.tokens, logprobs: logSoftmax(logits)};
}

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});

const llamaRun = (modelPath, prompt) => llamaRunOn(llama, modelPath, prompt, {generate: kGenerate, contextSize: 256});

function compareLogprobs(whaleLogprobs, probabilities) {
  let maxDiff = 0;
  let compared = 0;
  for (const [id, p] of probabilities) {
    if (p <= kMinProb) continue;
    maxDiff = Math.max(maxDiff, Math.abs(Math.log(p) - whaleLogprobs[id]));
    ++compared;
  }
  return {maxDiff, compared};
}

let failures = 0;
function check(ok, message) {
  console.log(`${ok ? "ok  " : "FAIL"} ${message}`);
  if (!ok) ++failures;
}

function sameTokens(a, b) {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

// Prompts of real-looking ids: BOS where the family uses one, then ordinary vocabulary tokens.
const prompts = {
  llama: [128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13],
  qwen2: [785, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562, 13, 576, 4226],
  qwen3: [785, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562, 13, 576, 4226],
};
const tiedFlag = {llama: [], qwen2: ["--tie-embeddings"], qwen3: []};

for (const arch of ["llama", "qwen2", "qwen3"]) {
  const ggufF32 = path.join(dir, `${arch}-f32.gguf`);
  for (const type of ["f32", "f16", "q8_0"]) {
    const file = path.join(dir, `${arch}-${type}.gguf`);
    run(["mkmodel", "--arch", arch, "--preset", "tiny", "--type", type, "--seed", "11", "--out", file, ...tiedFlag[arch]]);
    const w = whaleRun(file, prompts[arch]);
    const l = await llamaRun(file, prompts[arch]);
    check(w.tokens.length === kGenerate && sameTokens(w.tokens, l.tokens),
          `${arch} ${type}: greedy ${kGenerate} tokens equal (whale ${w.tokens.length}, llama.cpp ${l.tokens.length})` +
          (sameTokens(w.tokens, l.tokens) ? "" : `\n  whale ${JSON.stringify(w.tokens)}\n  llama ${JSON.stringify(l.tokens)}`));
    const {maxDiff, compared} = compareLogprobs(w.logprobs, l.probabilities);
    check(maxDiff < kTolerance[type] && compared > 100,
          `${arch} ${type}: max |log-prob diff| after the prompt = ${maxDiff.toExponential(2)} over ${compared} tokens ` +
          `(tolerance ${kTolerance[type]})`);
    if (file !== ggufF32) fs.rmSync(file);
  }

  // The same weights (same seed) as a Hugging Face folder: whale reads it directly, and llama.cpp reads
  // `whale convert`'s GGUF of it. For qwen2 the folder holds FP8 weights with 128x128 block scales, which
  // both sides dequantize the same way.
  const hf = path.join(dir, `${arch}-hf`);
  const converted = path.join(dir, `${arch}-converted.gguf`);
  const hfType = arch === "qwen2" ? "fp8" : "f32";
  run(["mkmodel", "--arch", arch, "--preset", "tiny", "--type", hfType, "--seed", "11", "--out", hf, "--format", "hf",
       ...tiedFlag[arch]]);
  const fromHf = whaleRun(hf, prompts[arch]);
  if (hfType === "f32") {
    const fromGguf = whaleRun(ggufF32, prompts[arch]);
    let maxDiff = 0;
    for (let i = 0; i < fromGguf.logprobs.length; ++i) maxDiff = Math.max(maxDiff, Math.abs(fromGguf.logprobs[i] - fromHf.logprobs[i]));
    check(sameTokens(fromGguf.tokens, fromHf.tokens) && maxDiff < 1e-4,
          `${arch}: HF folder vs GGUF in whale: same tokens, max |log-prob diff| = ${maxDiff.toExponential(2)}`);
  }
  run(["convert", hf, converted, "--type", "f32"]);
  const l = await llamaRun(converted, prompts[arch]);
  const {maxDiff, compared} = compareLogprobs(fromHf.logprobs, l.probabilities);
  check(sameTokens(fromHf.tokens, l.tokens) && maxDiff < kTolerance.f32 && compared > 100,
        `${arch}: HF folder (${hfType}) in whale vs llama.cpp on its converted GGUF: same tokens, ` +
        `max |log-prob diff| = ${maxDiff.toExponential(2)}`);
  for (const p of [ggufF32, converted]) fs.rmSync(p);
  fs.rmSync(hf, {recursive: true});
}

fs.rmSync(dir, {recursive: true, force: true});
if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
