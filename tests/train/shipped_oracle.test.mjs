// Oracle: the shipped models in llama.cpp (node-llama-cpp 3.21.1, prebuilt, CPU). Both files load there, and
// for a question rendered by the model's own chat template, llama.cpp's greedy continuation (its chain of
// thought and answer, 80 tokens or up to the end token) is token for token whale's.
import assert from "node:assert/strict";
import {execFileSync} from "node:child_process";
import path from "node:path";
import {getLlama} from "node-llama-cpp";

const WHALE = process.env.WHALE;
assert.ok(WHALE, "WHALE must point at the whale binary");
const SOURCE = process.env.WHALE_SOURCE_DIR ?? ".";
const GENERATED = 80;

function whale(args) {
  return execFileSync(WHALE, args, {encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "pipe"]});
}

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});

async function llamaGreedy(modelPath, prompt) {
  const model = await llama.loadModel({modelPath});
  const endTokens = [model.tokens.eos, model.tokens.eot].filter((t) => t != null);
  const context = await model.createContext({contextSize: 512, batchSize: 128, threads: 2, flashAttention: false,
                                             experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
  try {
    const sequence = context.getSequence();
    const next = {generateNext: {token: true, options: {temperature: 0}}};
    let input = prompt.map((t, i) => (i === prompt.length - 1 ? [t, next] : t));
    const tokens = [];
    while (tokens.length < GENERATED) {
      const out = await sequence.controlledEvaluate(input);
      const token = out[out.length - 1].next.token;
      if (endTokens.includes(token)) break;
      tokens.push(token);
      input = [[token, next]];
    }
    return tokens;
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

let failures = 0;
for (const name of ["nano-r1.gguf", "nano-r1-distill.gguf"]) {
  const modelPath = path.join(SOURCE, "models", name);
  try {
    // whale renders the question with the model's chat template; llama.cpp continues the same ids.
    const ours = JSON.parse(whale(["run", "-m", modelPath, "--temp", "0", "--json", "-c", "512", "-t", "2",
                                   "-p", "What is 4821 + 3907?", "-n", String(GENERATED)]));
    const theirs = await llamaGreedy(modelPath, ours.prompt_tokens);
    const first = ours.tokens.findIndex((t, i) => t !== theirs[i]);
    assert.ok(first < 0 && ours.tokens.length === theirs.length,
              `continuations differ from token ${first}:\n  whale ${ours.tokens.join(",")}\n  llama ${theirs.join(",")}`);
    console.log(`ok   ${name}: ${ours.tokens.length} greedy tokens identical in llama.cpp`);
  } catch (e) {
    ++failures;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
process.exit(failures > 0 ? 1 : 0);
