// The tokenizer `whale train-tokenizer` writes, loaded by Hugging Face tokenizers (the Rust library, npm
// package "tokenizers"): it must give the same ids as whale on task text, chat-formatted examples with the
// added tokens, and text the corpus never had; and decode back to the text. Then in a GGUF (a tiny random
// qwen2 model carrying it) llama.cpp (node-llama-cpp) must load it as pre "qwen2" and give the same ids.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { getLlama } from "node-llama-cpp";

const require = createRequire(import.meta.url);
const root = process.env.WHALE_SOURCE_DIR ?? process.cwd();
const whale = process.env.WHALE;
if (!whale) throw new Error("set WHALE to the whale binary");
const { Tokenizer } = require(path.join(root, "node_modules/tokenizers"));

function run(args, input = "") {
  const r = spawnSync(whale, args, { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`whale ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout.toString("utf8");
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "whale-bpe-oracle-"));
let failures = 0;
try {
  run(["train-tokenizer", "--out", dir, "--vocab", "450", "--problems", "800"]);
  const hf = Tokenizer.fromFile(path.join(dir, "tokenizer.json"));

  const docs = [
    "What is 4821 + 3907?", "Compute 482*39.", "4821 - 3907 = ?", "Please calculate 17 * 23", "17×23", "Solve 3x - 5 = 10",
    "1+7+0=8\n2+0+0=2\n8+9+0=17\n4+3+1=8\n=8728",
    "306*9\n6*9+0=54\n0*9+5=5\n3*9+0=27\n=2754",
    "<｜begin▁of▁sentence｜><｜User｜>What is 4821 + 3907?<｜Assistant｜><think>\n1+7+0=8\n</think>\n\n8728<｜end▁of▁sentence｜>",
    "Using the numbers 25, 5, 4, 3, make 83 with + - * /.\n(25-5)*4+3=83",
    "héllo wörld 😀 ¿qué? 日本語 \t tabs\r\nCRLF   trailing  ",
    "don't won't I'M we'll", "12345678901234567890", "<think>x</think>", "  \n\n  leading", "",
  ];
  const input = docs.map((d) => JSON.stringify(d)).join("\n") + "\n";
  const whaleIds = run(["tokenize", "-m", dir, "--json-lines"], input).split("\n").filter((l) => l).map((l) => JSON.parse(l));
  if (whaleIds.length !== docs.length) throw new Error(`${whaleIds.length} results for ${docs.length} documents`);
  let tokens = 0, bytes = 0;
  for (let i = 0; i < docs.length; i++) {
    const enc = await hf.encode(docs[i], null, { addSpecialTokens: false });
    const ids = Array.from(enc.getIds());
    tokens += ids.length;
    bytes += Buffer.byteLength(docs[i]);
    if (JSON.stringify(ids) !== JSON.stringify(whaleIds[i])) {
      failures++;
      console.log(`FAIL doc ${i} ${JSON.stringify(docs[i].slice(0, 50))}: whale ${JSON.stringify(whaleIds[i])} vs HF ${JSON.stringify(ids)}`);
    }
    const back = await hf.decode(ids, false);
    if (back !== docs[i]) {
      failures++;
      console.log(`FAIL decode doc ${i}: ${JSON.stringify(back)}`);
    }
  }
  // The added tokens are single ids and digits are one token each.
  const special = Array.from((await hf.encode("<think>\n", null, { addSpecialTokens: false })).getIds());
  if (special.length !== 2) { failures++; console.log(`FAIL <think>\\n: ${special}`); }
  const digits = Array.from((await hf.encode("4821", null, { addSpecialTokens: false })).getIds());
  if (digits.length !== 4) { failures++; console.log(`FAIL 4821: ${digits}`); }
  console.log(`${docs.length} documents, ${tokens} tokens for ${bytes} bytes`);

  // llama.cpp on the GGUF export (it does not NFC-normalize, so only NFC text is compared there).
  const gguf = path.join(dir, "tiny.gguf");
  run(["mkmodel", "--arch", "qwen2", "--preset", "tiny", "--layers", "1", "--tokenizer", dir, "--out", gguf]);
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  const model = await llama.loadModel({ modelPath: gguf });
  const ggufIds = run(["tokenize", "-m", gguf, "--json-lines"], input).split("\n").filter((l) => l).map((l) => JSON.parse(l));
  let compared = 0;
  for (let i = 0; i < docs.length; i++) {
    if (docs[i].normalize("NFC") !== docs[i] || docs[i] === "") continue;
    compared++;
    const ids = Array.from(model.tokenize(docs[i], true));
    if (JSON.stringify(ids) !== JSON.stringify(ggufIds[i]) || JSON.stringify(ids) !== JSON.stringify(whaleIds[i])) {
      failures++;
      console.log(`FAIL llama.cpp doc ${i} ${JSON.stringify(docs[i].slice(0, 50))}: llama.cpp ${JSON.stringify(ids)} vs whale ${JSON.stringify(ggufIds[i])}`);
    }
  }
  await model.dispose();
  console.log(`llama.cpp: ${compared} documents compared`);
  if (compared < docs.length - 2) { failures++; console.log("FAIL too few documents compared with llama.cpp"); }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
if (failures) {
  console.log(`${failures} failure(s)`);
  process.exit(1);
}
console.log("ok");
