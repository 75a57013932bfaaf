#!/usr/bin/env node
// Serving benchmark (not a test): starts `whale serve` on a model and measures, through the HTTP API,
//   - aggregate decode tokens/s with 1, 4 and 16 concurrent streams (each generating --tokens tokens), and
//   - time to first token of a long prompt (about --prefix tokens) cold, then again with its prefix cached
//     (the same long system prompt, another question), and after a restart with --cache-dir.
// Usage: node bench/serve.mjs -m MODEL [--threads N] [--tokens 48] [--prefix 2000]
// WHALE (default build/whale) names the binary. Prints a Markdown table.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { startServer } from "../tests/server/lib/spawn_server.mjs";

const { values: opts } = parseArgs({
  options: {
    model: { type: "string", short: "m" },
    threads: { type: "string", default: "2" },
    tokens: { type: "string", default: "48" },
    prefix: { type: "string", default: "2000" },
  },
});
if (!opts.model) {
  console.error("usage: node bench/serve.mjs -m MODEL [--threads N] [--tokens 48] [--prefix 2000]");
  process.exit(2);
}
process.env.WHALE ??= "build/whale";
const tokens = Number(opts.tokens);
const prefixTokens = Number(opts.prefix);

async function stream(base, messages, maxTokens) {
  const start = performance.now();
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      messages,
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  let firstToken = null;
  let usage = null;
  const times = [];  // arrival of each chunk with text
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    text += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = text.indexOf("\n\n")) >= 0) {
      const event = text.slice(0, end);
      text = text.slice(end + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const data = JSON.parse(event.slice(6));
      if (data.usage) usage = data.usage;
      const delta = data.choices?.[0]?.delta;
      if (delta && (delta.content || delta.reasoning_content)) {
        times.push(performance.now());
        if (firstToken === null) firstToken = times[0];
      }
    }
  }
  return { start, firstToken: (firstToken ?? performance.now()) - start, end: performance.now(), times, usage };
}

async function concurrent(base, n) {
  const runs = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      stream(base, [{ role: "user", content: `Tell me a story about the number ${i}.` }], tokens),
    ),
  );
  // Decode only: from the moment every stream has its first token (all prompts prefilled) to the last token.
  const decodeStart = Math.max(...runs.map((r) => r.start + r.firstToken));
  const end = Math.max(...runs.map((r) => r.times.at(-1)));
  const generated = runs.reduce((sum, r) => sum + r.times.filter((t) => t > decodeStart).length, 0);
  return generated / ((end - decodeStart) / 1000);
}

// A system prompt of about `prefixTokens` tokens (these words take about 1.7 tokens each in the DeepSeek and
// Qwen vocabularies; the table reports the real count).
const words = [];
for (let i = 0; words.length < prefixTokens * 0.6; i++) words.push(`rule${i % 97}`, "is", "kept.");
const system = { role: "system", content: words.join(" ") };
const ctx = String(Math.max(4096, prefixTokens * 2 + 256));

const cacheDir = mkdtempSync(join(tmpdir(), "whale-serve-bench-"));
const common = ["-m", opts.model, "--threads", opts.threads, "--ctx", ctx, "--cache-dir", cacheDir];
const rows = [];
try {
  let server = await startServer([...common, "--parallel", "16"], { timeoutMs: 600000 });
  await stream(server.base, [{ role: "user", content: "warm up" }], 2);
  for (const n of [1, 4, 16]) rows.push([`decode, ${n} concurrent streams`, `${(await concurrent(server.base, n)).toFixed(1)} tokens/s`]);
  const cold = await stream(server.base, [system, { role: "user", content: "First question?" }], 1);
  const warm = await stream(server.base, [system, { role: "user", content: "Second question?" }], 1);
  rows.push([`time to first token, ${cold.usage.prompt_tokens}-token prompt, cold`, `${cold.firstToken.toFixed(0)} ms`]);
  rows.push([`... same prefix cached (${warm.usage.prompt_cache_hit_tokens} tokens hit)`, `${warm.firstToken.toFixed(0)} ms`]);
  server.proc.kill("SIGTERM");
  await new Promise((resolve) => server.proc.on("exit", resolve));
  server = await startServer([...common, "--parallel", "1"], { timeoutMs: 600000 });
  const restarted = await stream(server.base, [system, { role: "user", content: "Third question?" }], 1);
  rows.push([`... after a restart with --cache-dir (${restarted.usage.prompt_cache_hit_tokens} tokens hit)`, `${restarted.firstToken.toFixed(0)} ms`]);
  server.proc.kill("SIGTERM");
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
console.log(`| ${opts.model}, ${opts.threads} threads | |\n|---|---|`);
for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
process.exit(0);
