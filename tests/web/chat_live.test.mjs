// The web chat page served by the real `whale serve` (its embedded assets and its own API): open GET /, send a
// message with DeepThink on, and see the reasoning block and the answer stream in. Uses the repository's model
// when serve can load it, else serve's --toy engine. Skips (with the reason printed) while serve or its GET /
// route is not there yet; once src/server routes the embedded page, a missing page is a failure.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { build_dir, check, fail, launch, open_page, source_dir } from "./browser.mjs";

const whale = process.env.WHALE;
function skip(reason) {
  console.log(`SKIP: ${reason}`);
  process.exit(0);
}
if (!whale || !existsSync(whale)) fail(`WHALE=${whale}: binary not found`);

const help = spawnSync(whale, ["serve", "--help"], { encoding: "utf8", timeout: 20000 });
if (help.status !== 0) skip(`\`whale serve --help\` exited ${help.status}: serve is not implemented yet`);

const artifacts = join(build_dir, "web", "artifacts");
mkdirSync(artifacts, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function free_port() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// Starts serve with `args`; resolves with the process once /health answers, or null if it exits first.
async function start(args) {
  const port = await free_port();
  const proc = spawn(whale, ["serve", "--host", "127.0.0.1", "--port", String(port), ...args],
    { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  let exited = false;
  proc.on("exit", () => (exited = true));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600 && !exited; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return { proc, base, log: () => log };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  proc.kill("SIGKILL");
  console.log(`serve ${args.join(" ")} did not come up: ${log.trim().split("\n").slice(-3).join(" | ")}`);
  return null;
}

const models_dir = join(source_dir, "models");
const models = existsSync(models_dir) ? readdirSync(models_dir).filter((f) => f.endsWith(".gguf")).sort() : [];
let server = null;
let mode = "";
if (models.length) {
  server = await start(["-m", join(models_dir, models[0])]);
  mode = `model ${models[0]}`;
}
if (!server && /--toy\b/.test(help.stdout)) {
  server = await start(["--toy", "--toy-step-ms", "5"]);
  mode = "toy engine";
}
if (!server) skip("no model that serve can load, and no --toy engine");
console.log(`whale serve is up with the ${mode}`);

let status = 0;
let browser = null;
try {
  const page_res = await fetch(`${server.base}/`);
  const html = await page_res.text();
  if (!html.includes('id="app"')) {
    const routed = readdirSync(join(source_dir, "src", "server"))
      .some((f) => /\.cpp$/.test(f) && readFileSync(join(source_dir, "src", "server", f), "utf8").includes("web_asset"));
    if (routed) throw new Error(`GET / did not return the chat page (status ${page_res.status}): ${html.slice(0, 120)}`);
    console.log("SKIP: the server does not route GET / to the embedded page yet");
  } else {
    check(page_res.status === 200 && /^text\/html/.test(page_res.headers.get("content-type")), "GET / is the chat page");
    const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    const js = script ? await fetch(`${server.base}${script}`) : null;
    check(js?.status === 200 && /javascript/.test(js.headers.get("content-type")), `${script} served as JavaScript`);
    check((await fetch(`${server.base}/assets/no-such-file.js`)).status === 404, "unknown asset is a 404");
    const model_id = (await (await fetch(`${server.base}/v1/models`)).json()).data[0].id;

    browser = await launch();
    const { page, errors, foreign } = await open_page(browser, server.base);
    // Keep the answer short: a real model on two cores is slow, and the page itself sends no max_tokens. The
    // toy engine is fast and its scripted answer follows a short thought, so it can finish.
    const toy = mode === "toy engine";
    const max_tokens = toy ? 400 : 64;
    await page.route("**/v1/chat/completions", (route) => {
      const body = JSON.parse(route.request().postData());
      route.continue({ postData: JSON.stringify({ ...body, max_tokens }) });
    });
    await page.goto(server.base);
    await page.waitForFunction((id) => document.getElementById("model-name")?.textContent === id, model_id, { timeout: 10000 });
    check(true, `page shows the served model "${model_id}"`);
    check((await page.getAttribute("#deepthink", "aria-pressed")) === "true", "DeepThink on");
    await page.fill("#input", "What is 2 + 3?");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".msg.assistant .actions:not([hidden])", { timeout: 180000 });
    const error = await page.textContent(".msg.assistant .error");
    check(error === "", `no error shown ("${error}")`);
    const reasoning = await page.textContent(".think-body");
    const answer = await page.textContent(".msg.assistant .answer");
    console.log(`reasoning: ${JSON.stringify(reasoning.slice(0, 200))}`);
    console.log(`answer: ${JSON.stringify(answer.slice(0, 200))}`);
    check(reasoning.trim().length > 0 && !(await page.isHidden(".think")), "reasoning block shown");
    check(/^Thought for \d+ seconds?$/.test(await page.textContent(".think-label")), "thought block has its duration");
    if (toy) check(answer.trim().length > 0, "answer streamed after the thought");
    const stats = await page.textContent(".stats");
    check(/^\d+ tokens/.test(stats), `stats shown ("${stats}")`);
    check(/tokens$/.test(await page.textContent("#ctx-text")), "context use shown");
    await page.screenshot({ path: join(artifacts, "chat-live.png") });
    console.log(`screenshot: ${join(artifacts, "chat-live.png")}`);

    // DeepThink off adds `thinking: {type: "disabled"}`; the server must accept the request.
    await page.click("#deepthink");
    await page.click(".msg.assistant .regenerate");
    await page.waitForSelector(".msg.assistant .actions:not([hidden])", { timeout: 180000 });
    const error2 = await page.textContent(".msg.assistant .error");
    check(error2 === "", `request with DeepThink off accepted ("${error2}")`);
    check(errors.length === 0, `no page errors (${errors.join("; ")})`);
    check(foreign.length === 0, `no requests leave the server (${foreign.join(" ")})`);
  }
} catch (e) {
  console.error(`FAIL: ${e.message}\nserver log tail: ${server.log().trim().split("\n").slice(-5).join("\n")}`);
  status = 1;
} finally {
  if (browser) await browser.close();
  server.proc.kill("SIGTERM");
  await sleep(200);
  if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
}
process.exit(status);
