// The documents of the tokenizer parity tests (tests/data/tokenizer-corpus cut into chunks, crafted cases,
// CRLF variants, long runs) and helpers to run whale on many documents at once. Imported by *.test.mjs here.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = process.env.WHALE_SOURCE_DIR ?? process.cwd();
const corpusDir = path.join(root, "tests/data/tokenizer-corpus");
const kChunkBytes = 3000;

function chunks(text) {
  const out = [];
  let current = "";
  for (const line of text.split(/(?<=\n)/)) {
    if (current && Buffer.byteLength(current + line) > kChunkBytes) {
      out.push(current);
      current = "";
    }
    current += line;
  }
  if (current) out.push(current);
  return out;
}

export function loadDocuments() {
  const docs = [];
  const files = fs.readdirSync(corpusDir).filter((f) => f.endsWith(".txt")).sort();
  for (const f of files) docs.push(...chunks(fs.readFileSync(path.join(corpusDir, f), "utf8")));
  const crlf = docs.filter((_, i) => i % 17 === 0).map((d) => d.replace(/\n/g, "\r\n"));
  docs.push(...crlf);
  docs.push(...JSON.parse(fs.readFileSync(path.join(corpusDir, "crafted.json"), "utf8")));
  // Long words and runs: the merge loop on long symbol sequences, whitespace lookahead on long runs.
  docs.push("a".repeat(3000), "1".repeat(1001), " ".repeat(2000) + "x", "\n".repeat(500), "🙂".repeat(300),
    "ab".repeat(700), "\u4e2d\u6587".repeat(800), "\t ".repeat(400) + "\r\n".repeat(100), "z".repeat(1) + "!".repeat(999));
  return docs;
}

export function runWhale(args, input) {
  const whale = process.env.WHALE;
  if (!whale) throw new Error("set WHALE to the whale binary");
  const r = spawnSync(whale, args, { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`whale ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout.toString("utf8");
}

export function jsonLines(text) {
  return text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

export const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export function firstDifference(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `at index ${i}: ${JSON.stringify(a.slice(i, i + 6))} vs ${JSON.stringify(b.slice(i, i + 6))}`;
}
