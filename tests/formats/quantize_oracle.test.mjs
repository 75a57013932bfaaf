// Oracle: `whale quantize` output in llama.cpp (node-llama-cpp, CPU). A one-layer model in the real
// R1-Distill-Qwen-1.5B widths (1536 / 8960 / 151936 tied head: every matrix splits into K-quant
// super-blocks) is written in F16 by `whale mkmodel`, quantized by whale to Q4_K_M and Q5_K_M (between
// them Q4_K, Q5_K and Q6_K), and each file must load in llama.cpp and give the same greedy continuation there as in whale, with
// log-probabilities after the prompt close (both sides quantize activations to the same 8-bit blocks; the
// remaining differences are float summation order and the rounding of those activations).
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {getLlama} from "node-llama-cpp";

import {llamaRun as llamaRunOn} from "../lib/llama_oracle.mjs";

const whale = process.env.WHALE ?? "build/whale";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "whale-quantize-oracle-"));
const kGenerate = 16;
const kTolerance = 5e-3;  // max |log p difference| over tokens with p > 1e-6 (measured ~4.5e-4)
const kMinProb = 1e-6;
const prompt = [785, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562, 13, 576, 4226];

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

function whaleRun(model) {
  const logitsPath = path.join(dir, "logits.bin");
  const out = JSON.parse(run(["run", "-m", model, "--prompt-tokens", JSON.stringify(prompt), "--temp", "0", "-n",
                              String(kGenerate), "--json", "--threads", "2", "--ctx", "64", "--logits-out", logitsPath]));
  const buf = fs.readFileSync(logitsPath);
  return {tokens: out.tokens, logprobs: logSoftmax(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4))};
}

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});

const llamaRun = (modelPath) => llamaRunOn(llama, modelPath, prompt, {generate: kGenerate, contextSize: 64});

let failures = 0;
function check(ok, message) {
  console.log(`${ok ? "ok  " : "FAIL"} ${message}`);
  if (!ok) ++failures;
}

const source = path.join(dir, "q15-1layer-f16.gguf");
run(["mkmodel", "--arch", "qwen2", "--preset", "r1-distill-qwen-1.5b", "--layers", "1", "--tie-embeddings",
     "--type", "f16", "--seed", "3", "--out", source]);
for (const type of ["q4_k_m", "q5_k_m"]) {
  const file = path.join(dir, `q15-1layer-${type}.gguf`);
  run(["quantize", source, file, "--type", type]);
  const w = whaleRun(file);
  const l = await llamaRun(file);
  const same = w.tokens.length === kGenerate && w.tokens.every((t, i) => t === l.tokens[i]);
  check(same, `${type}: greedy ${kGenerate} tokens equal` +
              (same ? "" : `\n  whale ${JSON.stringify(w.tokens)}\n  llama ${JSON.stringify(l.tokens)}`));
  let maxDiff = 0, compared = 0;
  for (const [id, p] of l.probabilities) {
    if (p <= kMinProb) continue;
    maxDiff = Math.max(maxDiff, Math.abs(Math.log(p) - w.logprobs[id]));
    ++compared;
  }
  check(maxDiff < kTolerance && compared > 100,
        `${type}: max |log-prob diff| = ${maxDiff.toExponential(2)} over ${compared} tokens (tolerance ${kTolerance})`);
  fs.rmSync(file);
}
fs.rmSync(dir, {recursive: true, force: true});
if (failures > 0) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
