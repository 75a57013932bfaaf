// The web chat page in a real browser against a scripted stand-in for `whale serve`: a node server that serves
// the built page from the build tree and answers /v1/chat/completions with a fixed SSE stream shaped like
// deepseek-reasoner's. Checks streaming with the thought block, Markdown/code/math, copy, stop, regenerate,
// DeepThink, persistence across reload, and that hostile model output cannot run script. The page is served with
// the security headers `whale serve` itself sends (read from a `whale serve --toy` at start), so everything
// above must also work under its Content-Security-Policy, with no violation reported.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, readFileSync, mkdirSync } from "node:fs";
import { join, normalize } from "node:path";
import { build_dir, check, fail, launch, open_page } from "./browser.mjs";

const dist = join(build_dir, "web", "dist");
if (!existsSync(join(dist, "index.html"))) fail(`${dist}/index.html missing: build whale first (cmake/web.cmake builds the page)`);
const artifacts = join(build_dir, "web", "artifacts");
mkdirSync(artifacts, { recursive: true });

const kTypes = { html: "text/html", js: "text/javascript", css: "text/css", woff2: "font/woff2" };
const kReasoning = ["Let me think. ", "The user says hello, ", "so I should greet them ", "and show some **formatting**."];
const kAnswer = [
  "## Hello there\n\n", "Here is a list:\n\n- one\n- two\n\n",
  "```python\ndef square(x):\n    return x * x  # squares\n```\n\n",
  "Inline math $E = mc^2$ and display math:\n\n$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$\n\n",
  "A [link](https://example.com/docs).",
];
// Every way model output could try to run script or inject markup.
const kHostile = [
  "Hostile <img src=x onerror=\"window.__pwned='img'\"> text\n\n",
  "<script>window.__pwned='script'</script>\n\n",
  "[click me](javascript:window.__pwned='link') and <a href=\"javascript:window.__pwned='a'\">raw link</a>\n\n",
  "<div onmouseover=\"window.__pwned='div'\" style=\"position:fixed;inset:0\">raw div</div>\n\n",
  "<iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>\n\n",
  "![pic](javascript:window.__pwned='image') and <svg onload=\"window.__pwned='svg'\"></svg>\n\n",
  "Math trust: $\\href{javascript:window.__pwned='katex'}{x}$ and $\\htmlClass{evil}{y}$ end.",
];

// The headers whale's own server puts on the page.
async function whale_page_headers() {
  const whale = process.env.WHALE ?? join(build_dir, "whale");
  const child = spawn(whale, ["serve", "--toy", "--port", "0"], { stdio: ["ignore", "ignore", "pipe"] });
  try {
    let log = "";
    const port = await new Promise((resolve, reject) => {
      child.stderr.on("data", (d) => {
        log += d;
        const m = log.match(/on http:\/\/127\.0\.0\.1:(\d+)/);
        if (m) resolve(m[1]);
      });
      child.on("exit", () => reject(new Error(`whale serve --toy exited: ${log}`)));
    });
    const response = await fetch(`http://127.0.0.1:${port}/`);
    const names = ["content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy", "cross-origin-opener-policy"];
    const headers = Object.fromEntries(names.map((n) => [n, response.headers.get(n)]).filter(([, v]) => v));
    if (!headers["content-security-policy"]) fail("whale serve sends no Content-Security-Policy on its page");
    return headers;
  } finally {
    child.kill();
  }
}
const page_headers = await whale_page_headers();
console.log(`page served with whale's CSP: ${page_headers["content-security-policy"]}`);

const requests = []; // parsed bodies of chat requests, in order
let aborted = 0; // streams the client closed before the end
let generation = 0;
let required_key = ""; // when set, the API answers 401 without `Authorization: Bearer <key>`
const auth_seen = [];

function sse(res, obj) {
  res.write(`data: ${JSON.stringify(obj)}\n\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function stream(req, res, body) {
  generation += 1;
  const last = body.messages.at(-1)?.content ?? "";
  let closed = false;
  res.on("close", () => {
    if (!res.writableEnded) {
      closed = true;
      aborted += 1;
    }
  });
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  const base = { id: `chatcmpl-${generation}`, object: "chat.completion.chunk", created: 1, model: "mock-r1" };
  const delta = (d, finish = null) => sse(res, { ...base, choices: [{ index: 0, delta: d, finish_reason: finish, logprobs: null }] });
  res.write(": keep-alive\n\n");
  delta({ role: "assistant", content: "" });
  const slow = last.startsWith("slow");
  const tags = last.startsWith("tags");
  const reasoning = tags ? [] : last.startsWith("hostile") ? ["Thinking <img src=x onerror=\"window.__pwned='think'\">"] : kReasoning;
  const answer = tags ? ["<thi", "nk>\nPondering the ", "tags.</th", "ink>\n\nTagged **answer**."]
    : last.startsWith("hostile") ? kHostile
    : slow ? Array.from({ length: 300 }, (_, i) => `word${i} `)
    : [...kAnswer, `\n\nanswer #${generation}`];
  let tokens = 0;
  for (const r of reasoning) {
    if (closed) return;
    delta({ reasoning_content: r, content: null });
    tokens += 1;
    await sleep(slow ? 20 : 280); // about a second of thinking for "Thought for 1 second"
  }
  for (const a of answer) {
    if (closed) return;
    delta({ content: a, reasoning_content: null });
    tokens += 1;
    await sleep(slow ? 50 : 20);
  }
  delta({}, "stop");
  const prompt = 100 + body.messages.length;
  sse(res, { ...base, choices: [], usage: { prompt_tokens: prompt, completion_tokens: tokens, total_tokens: prompt + tokens,
    prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: prompt - 64, prompt_tokens_details: { cached_tokens: 64 },
    completion_tokens_details: { reasoning_tokens: reasoning.length } } });
  res.end("data: [DONE]\n\n");
}

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname.startsWith("/v1/")) {
    auth_seen.push(req.headers.authorization ?? "");
    if (required_key && req.headers.authorization !== `Bearer ${required_key}`) {
      res.writeHead(401, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: "missing or wrong API key", type: "authentication_error", param: null, code: "invalid_api_key" } }));
      return;
    }
  }
  if (req.method === "GET" && url.pathname === "/v1/models") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ object: "list", data: [{ id: "mock-r1", object: "model", owned_by: "whale", context_length: 4096 }] }));
    return;
  }
  if (req.method === "POST" && url.pathname === "/v1/chat/completions") {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      const body = JSON.parse(data);
      requests.push(body);
      void stream(req, res, body);
    });
    return;
  }
  // Static files, looked up the way whale's find_web_asset does: "/" is the page.
  const rel = url.pathname === "/" ? "index.html" : normalize(url.pathname).replace(/^\/+/, "");
  const file = join(dist, rel);
  if (!file.startsWith(dist) || !existsSync(file)) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, { ...page_headers, "Content-Type": kTypes[file.split(".").pop()] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await launch();
let status = 0;
try {
  const { page, errors, foreign } = await open_page(browser, base);
  await page.goto(base);
  await page.waitForFunction(() => document.getElementById("model-name")?.textContent === "mock-r1");
  check(await page.isVisible("#empty"), "empty chat shows the greeting");
  check((await page.getAttribute("#deepthink", "aria-pressed")) === "true", "DeepThink is on by default");

  // 1. A message with DeepThink on: thought block, then the answer.
  await page.fill("#input", "hello");
  await page.keyboard.press("Enter");
  await page.waitForSelector(".msg.assistant .think.active", { timeout: 5000 });
  const thinking_label = await page.textContent(".think-label");
  check(/^Thinking/.test(thinking_label), `while reasoning the block says "${thinking_label}"`);
  await page.waitForSelector(".msg.assistant .actions:not([hidden])", { timeout: 10000 });
  const label = await page.textContent(".think-label");
  check(/^Thought for [1-3] seconds?$/.test(label), `thought block header "${label}"`);
  check(await page.$eval(".think", (d) => d.open), "thought block is expanded with DeepThink on");
  check((await page.textContent(".think-body")).includes("The user says hello"), "reasoning text shown");
  check((await page.$eval(".think-body strong", (e) => e.textContent)) === "formatting", "reasoning renders markdown");
  await page.click(".think summary");
  check(!(await page.$eval(".think", (d) => d.open)), "thought block collapses on click");
  await page.click(".think summary");

  const answer = ".msg.assistant .answer";
  check((await page.textContent(`${answer} h2`)) === "Hello there", "heading rendered");
  check((await page.$$(`${answer} li`)).length === 2, "list rendered");
  check((await page.textContent(`${answer} .code-lang`)) === "python", "code block labelled with its language");
  check((await page.textContent(`${answer} code .hljs-keyword`)) === "def", "code highlighted");
  check((await page.textContent(`${answer} code .hljs-comment`)).includes("squares"), "code comment highlighted");
  await page.waitForSelector(`${answer} .katex`, { timeout: 5000 });
  check((await page.$$(`${answer} .katex`)).length === 2, "inline and display math typeset by KaTeX");
  check((await page.$$(`${answer} .katex-display`)).length === 1, "display math in display mode");
  check((await page.$eval(`${answer} .math-display .math`, (e) => e.title)) === "\\int_0^1 x^2\\,dx = \\frac{1}{3}", "display math keeps its TeX");
  const font_ok = await page.evaluate(async () => {
    await document.fonts.ready;
    return document.fonts.check("16px KaTeX_Main");
  });
  check(font_ok, "KaTeX fonts load from the page's own server");
  const link = await page.$eval(`${answer} a`, (a) => [a.getAttribute("href"), a.target, a.rel]);
  check(link[0] === "https://example.com/docs" && link[1] === "_blank" && link[2].includes("noopener"), "links open safely in a new tab");
  check((await page.textContent(answer)).includes("answer #1"), "whole answer streamed");
  const stats = await page.textContent(".stats");
  check(/^10 tokens · [\d.]+ tok\/s · 64 cached$/.test(stats), `tokens and tokens per second shown ("${stats}")`);
  const ctx = await page.textContent("#ctx-text");
  check(ctx === "111 / 4,096 tokens", `context use shown ("${ctx}")`);
  check(await page.isVisible("#ctx-use"), "context gauge visible");
  check((await page.textContent("#chat-title")) === "hello", "conversation titled from the first message");
  check((await page.$$(".chat-item")).length === 1, "conversation listed in the sidebar");

  const req1 = requests[0];
  check(req1.stream === true && req1.stream_options?.include_usage === true, "request streams with usage");
  check(req1.model === "mock-r1", "request names the model from /v1/models");
  check(JSON.stringify(req1.messages) === JSON.stringify([{ role: "user", content: "hello" }]), "request carries the message");
  check(req1.thinking === undefined, "DeepThink on sends no thinking flag");

  await page.screenshot({ path: join(artifacts, "chat.png") });
  console.log(`screenshot: ${join(artifacts, "chat.png")}`);

  // 2. Copy puts the answer's Markdown on the clipboard.
  await page.click(".msg.assistant .actions .copy");
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  check(clip.startsWith("## Hello there") && clip.includes("$E = mc^2$"), "copy puts the answer's markdown on the clipboard");
  await page.click(".code-copy");
  const code_clip = await page.evaluate(() => navigator.clipboard.readText());
  check(code_clip === "def square(x):\n    return x * x  # squares", "code block copy button copies the code");

  // 3. Regenerate replaces the last answer with a new generation of the same question.
  await page.click(".msg.assistant .regenerate");
  await page.waitForFunction(() => document.querySelector(".msg.assistant .answer")?.textContent.includes("answer #2"), null, { timeout: 10000 });
  await page.waitForSelector(".msg.assistant .actions:not([hidden])");
  check((await page.$$(".msg")).length === 2, "regenerate keeps one question and one answer");
  check(JSON.stringify(requests[1].messages) === JSON.stringify(req1.messages), "regenerate resends the same history");

  // 4. Stop aborts the stream; the partial answer stays.
  await page.fill("#input", "slow please");
  await page.click("#send");
  await page.waitForFunction(() => (document.querySelectorAll(".msg.assistant")[1]?.querySelector(".answer")?.textContent ?? "").includes("word3"), null, { timeout: 10000 });
  check(await page.isVisible("#stop"), "stop button shown while streaming");
  await page.click("#stop");
  await page.waitForSelector("#send:not([hidden])");
  const partial = await page.textContent(".msg.assistant:last-child .answer");
  check(partial.includes("word3") && !partial.includes("word299"), "partial answer kept after stop");
  check((await page.textContent(".msg.assistant:last-child .error")) === "Stopped.", "stopped answer is marked");
  for (let i = 0; i < 30 && aborted === 0; i++) await sleep(100);
  check(aborted === 1, "the server saw the stream closed by the client");
  check(requests[2].messages.length === 3 && requests[2].messages[1].role === "assistant" &&
    !("reasoning_content" in requests[2].messages[1]), "history sent without earlier reasoning");

  // 5. Hostile output renders as text and runs nothing.
  await page.fill("#input", "hostile input");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelectorAll(".msg.assistant").length === 3 &&
    !document.querySelector(".msg.assistant:last-child .actions")?.hidden, null, { timeout: 10000 });
  await page.hover(".msg.assistant:last-child .answer");
  await page.mouse.move(10, 10);
  await page.mouse.move(640, 400);
  await sleep(300);
  const hostile = ".msg.assistant:last-child";
  check(await page.evaluate(() => window.__pwned === undefined), "no injected script ran");
  const bad = await page.$$eval(`${hostile} img, ${hostile} script, ${hostile} iframe, ${hostile} .answer svg, ${hostile} [onerror], ${hostile} [onload], ${hostile} [onmouseover], ${hostile} [style*=fixed]`, (n) => n.map((e) => e.outerHTML));
  check(bad.length === 0, `no injected elements or handlers (${bad.join(" ")})`);
  const hrefs = await page.$$eval(`${hostile} a`, (n) => n.map((a) => a.getAttribute("href") ?? ""));
  check(hrefs.every((h) => !/^\s*javascript:/i.test(h)), `no javascript: links (${JSON.stringify(hrefs)})`);
  const text = await page.textContent(`${hostile} .answer`);
  check(text.includes("<script>window.__pwned='script'</script>"), "raw HTML shown as text");
  for (const a of await page.$$(`${hostile} a`)) await a.click({ modifiers: [] }).catch(() => undefined);
  await sleep(200);
  check(await page.evaluate(() => window.__pwned === undefined), "clicking links runs nothing");
  await page.screenshot({ path: join(artifacts, "chat-hostile.png") });

  // 6. DeepThink off asks the server to skip reasoning and keeps any thought folded.
  await page.click("#deepthink");
  check((await page.getAttribute("#deepthink", "aria-pressed")) === "false", "DeepThink toggles off");
  await page.click("#new-chat");
  check(await page.isVisible("#empty"), "new chat starts empty");
  await page.fill("#input", "second chat");
  await page.keyboard.press("Enter");
  await page.waitForSelector(".msg.assistant .actions:not([hidden])", { timeout: 10000 });
  check(JSON.stringify(requests.at(-1).thinking) === JSON.stringify({ type: "disabled" }), "DeepThink off sends thinking: disabled");
  check(!(await page.$eval(".think", (d) => d.open)), "thought folded with DeepThink off");
  await page.click("#deepthink");

  // A server that leaves <think> tags in content still gets a thought block.
  await page.fill("#input", "tags in content");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll(".msg.assistant").length === 2 &&
    !document.querySelector(".msg.assistant:last-child .actions")?.hidden, null, { timeout: 10000 });
  check((await page.textContent(".msg.assistant:last-child .think-body")).trim() === "Pondering the tags.", "<think> tags in content become the thought block");
  check((await page.innerHTML(".msg.assistant:last-child .answer")).trim() === "<p>Tagged <strong>answer</strong>.</p>", "text after </think> is the answer");

  // 7. Conversations survive a reload, newest first, and reopen with their messages.
  await page.reload();
  await page.waitForFunction(() => document.getElementById("model-name")?.textContent === "mock-r1");
  const titles = await page.$$eval(".chat-open", (n) => n.map((e) => e.textContent));
  check(JSON.stringify(titles) === JSON.stringify(["second chat", "hello"]), `conversations kept across reload (${titles})`);
  check((await page.$$(".msg")).length === 4, "the newest conversation opens with its four messages");
  check((await page.getAttribute("#deepthink", "aria-pressed")) === "true", "DeepThink setting kept across reload");
  await page.click(".chat-open >> text=hello");
  check((await page.$$(".msg")).length === 6, "first conversation reopens with its six messages");
  check((await page.textContent(".msg.assistant .answer")).includes("answer #2"), "regenerated answer was saved");
  check(/^Thought for/.test(await page.textContent(".think-label")), "saved thought keeps its duration");
  await page.waitForSelector(".msg.assistant .answer .katex");
  check(true, "math typeset again after reload");

  // 8. A server with API keys: the page says so, takes a key and sends it.
  required_key = "sk-test-123";
  await page.reload();
  await page.waitForFunction(() => document.getElementById("model-name")?.textContent === "API key needed");
  check(true, "401 from /v1/models shows that a key is needed");
  check(await page.isDisabled("#send") || (await page.inputValue("#input")) === "", "cannot send without a model");
  await page.click("#settings-open");
  await page.fill("#api-key", "sk-test-123");
  await page.click("#settings-save");
  await page.waitForFunction(() => document.getElementById("model-name")?.textContent === "mock-r1");
  check(auth_seen.at(-1) === "Bearer sk-test-123", "key sent as a bearer token");
  await page.click("#new-chat");
  await page.fill("#input", "keyed hello");
  await page.keyboard.press("Enter");
  await page.waitForSelector(".msg.assistant .actions:not([hidden])", { timeout: 10000 });
  check((await page.textContent(".msg.assistant .error")) === "", "chat works with the key");
  required_key = "";

  // 9. Narrow screens: the sidebar folds away behind the menu button.
  await page.setViewportSize({ width: 390, height: 800 });
  await sleep(400); // the sidebar slides out
  await page.screenshot({ path: join(artifacts, "chat-narrow.png") });
  check(!(await page.isVisible("#sidebar .new-chat")) || (await page.$eval("#sidebar", (s) => s.getBoundingClientRect().right <= 0)), "sidebar hidden on a phone");
  await page.click("#menu");
  await sleep(300);
  check(await page.$eval("#sidebar", (s) => s.getBoundingClientRect().left >= 0), "menu button slides the sidebar in");

  check(errors.length === 0, `no page errors (${errors.join("; ")})`);
  check(foreign.length === 0, `no requests leave the server (${foreign.join(" ")})`);
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  status = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(status);
