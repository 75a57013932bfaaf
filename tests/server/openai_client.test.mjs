// The official `openai` npm client against `whale serve --toy`: non-streaming and streaming chat with
// reasoning_content, usage fields, stop strings, seeds, errors by status, and 16 concurrent streams at
// temperature 0 that each return exactly what the same request returns alone.
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer } from "./lib/spawn_server.mjs";

const THOUGHT = "The user wants an answer. Let me think step by step.";  // the toy model's script
const ANSWER = "Hello from the toy model!";

const server = await startServer(["--toy", "--toy-step-ms", "3", "--parallel", "16", "--ctx", "512"]);
const client = new OpenAI({ baseURL: `${server.base}/v1`, apiKey: "unused", maxRetries: 0, timeout: 60000 });
let passed = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}\n${e.stack}\n--- server log\n${server.log().slice(-3000)}`);
    process.exit(1);
  }
}
const hi = [{ role: "user", content: "hi" }];

await test("non-streaming chat", async () => {
  const r = await client.chat.completions.create({ model: "whale-toy", messages: hi, temperature: 0 });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.reasoning_content, THOUGHT);
  assert.equal(r.choices[0].message.content, ANSWER);
  assert.equal(r.choices[0].finish_reason, "stop");
  const u = r.usage;
  assert.equal(u.prompt_tokens, 1 + 2 + 1 + 8);
  assert.equal(u.completion_tokens, THOUGHT.length + "\n</think>\n\n".length + ANSWER.length);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens, u.prompt_tokens);
  assert.equal(u.prompt_tokens_details.cached_tokens, u.prompt_cache_hit_tokens);
  assert.equal(u.completion_tokens_details.reasoning_tokens, THOUGHT.length + "\n</think>".length);
});

await test("streaming chat with usage", async () => {
  const stream = await client.chat.completions.create({
    messages: hi, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let reasoning = "", content = "", finish = null, usage = null, reasoningAfterContent = false;
  for await (const chunk of stream) {
    if (chunk.usage) {
      usage = chunk.usage;
      assert.equal(chunk.choices.length, 0);
    }
    for (const c of chunk.choices) {
      if (c.delta.reasoning_content) {
        reasoningAfterContent ||= content.length > 0;
        reasoning += c.delta.reasoning_content;
      }
      if (c.delta.content) content += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(reasoning, THOUGHT);
  assert.equal(content, ANSWER);
  assert.equal(reasoningAfterContent, false);
  assert.equal(finish, "stop");
  assert.equal(usage.prompt_cache_hit_tokens + usage.prompt_cache_miss_tokens, usage.prompt_tokens);
  assert.ok(usage.prompt_cache_hit_tokens > 0, "the same prompt again hits the prefix cache");
});

await test("stop strings", async () => {
  const r = await client.chat.completions.create({ messages: hi, temperature: 0, stop: [" toy"] });
  assert.equal(r.choices[0].message.content, "Hello from the");
  assert.equal(r.choices[0].finish_reason, "stop");
});

await test("seeds", async () => {
  // A raw completion has no script to follow: at temperature 1 the output is the seeded draw.
  const draw = async (seed) =>
    (await client.completions.create({ model: "whale-toy", prompt: "x", max_tokens: 24, temperature: 1, seed })).choices[0].text;
  const a = await draw(5), b = await draw(5), c = await draw(6);
  assert.equal(a.length, 24);
  assert.equal(a, b);
  assert.notEqual(a, c);
});

await test("errors by status", async () => {
  const expectStatus = async (params, status, param) => {
    await assert.rejects(client.chat.completions.create(params), (e) => {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.equal(e.status, status);
      if (param !== undefined) assert.equal(e.param, param);
      assert.ok(e.message.length > 0);
      return true;
    });
  };
  await expectStatus({ messages: [] }, 422, "messages");
  await expectStatus({ messages: [{ role: "robot", content: "x" }] }, 422, "messages[0].role");
  await expectStatus({ messages: hi, temperature: "warm" }, 422, "temperature");
  await expectStatus({ messages: [{ role: "user", content: "y".repeat(600) }] }, 400, "messages");
  const r = await client.chat.completions.create({ messages: hi, temperature: 0, max_tokens: 2 });
  assert.equal(r.usage.completion_tokens, 2, "the server stays up");
});

await test("16 concurrent streams match the same requests alone", async () => {
  const prompts = Array.from({ length: 16 }, (_, i) => `prompt number ${i} ${"z".repeat(i * 7)}`);
  const run = async (prompt) => {
    const stream = await client.completions.create({ prompt, max_tokens: 20, temperature: 0, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    return text;
  };
  const alone = [];
  for (const p of prompts) alone.push(await run(p));
  const together = await Promise.all(prompts.map(run));
  assert.deepEqual(together, alone);
  assert.ok(alone.every((t) => t.length === 20));
  assert.ok(new Set(alone).size > 1, "different prompts give different outputs");
});

server.proc.kill("SIGTERM");
console.log(`all ${passed} tests passed`);
