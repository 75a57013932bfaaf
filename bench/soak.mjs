#!/usr/bin/env node
// Soak and load driver for `whale serve` (a long check, not a benchmark table): starts the server on a model,
// or attaches to --url, and keeps --clients concurrent clients busy for --duration seconds on loopback with a
// mix of requests: streamed and whole chat answers, /v1/completions, clients that leave in the middle of an
// answer, bodies over the 8 MiB limit, malformed bodies, unknown paths, /health and /metrics. It samples the
// server's resident memory every second, prints a progress line now and then, and ends with a report and a
// verdict against what the server promises (src/server/README.md):
//   - it is alive at the end and answers /health, and nothing took longer than the hang limit;
//   - no 500s, and 429/503 only while more requests are in flight than --parallel + --queue;
//   - every refused request gets exactly its status (413 oversized, 400 bad JSON, 422 wrong types, 404);
//   - a client that leaves is counted as 499 in /metrics, and every request that reached an API endpoint is
//     counted there exactly once;
//   - resident memory stays flat after warm-up (the rule is printed with the figures);
//   - a server this driver started stops cleanly on SIGTERM.
// Exit status: 0 when every expectation holds, 1 when one fails, 2 for bad flags.
//
// Usage: node bench/soak.mjs [-m MODEL | --toy | --url URL [--pid PID]] [--clients 64] [--duration 600]
//          [--parallel 4] [--queue 32] [--threads 2] [--cache-mem 64] [--seed N] [--kinds K,...] [--json FILE]
//          [--rss-tolerance 0.05]
// WHALE (default build/whale) names the binary; -m defaults to models/nano-r1.gguf; --toy serves the toy model
// at 5 ms a step. --parallel, --queue, --threads and --cache-mem (MiB) are passed to the server it starts; with
// --url they must describe the server attached to, which must serve only this driver during the run (its
// /metrics are compared with what the clients saw), and --pid names its process for the memory figures.
// --seed repeats a run's mix of requests (not its timing); --kinds keeps only some kinds of request (names in
// the report), to reproduce a finding. --json FILE writes the report as JSON. --rss-tolerance is the growth the
// memory rule allows (Infinity under the sanitizers, whose quarantine holds freed memory). Everything stays on
// loopback.
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";

import { startServer } from "../tests/server/lib/spawn_server.mjs";

const USAGE = `usage: node bench/soak.mjs [-m MODEL | --toy | --url URL [--pid PID]] [--clients 64] [--duration 600]
         [--parallel 4] [--queue 32] [--threads 2] [--cache-mem 64] [--seed N] [--kinds K,...] [--json FILE]
         [--rss-tolerance 0.05]`;

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      model: { type: "string", short: "m", default: "models/nano-r1.gguf" },
      toy: { type: "boolean", default: false },
      url: { type: "string" },
      pid: { type: "string" },
      clients: { type: "string", default: "64" },
      duration: { type: "string", default: "600" },
      parallel: { type: "string", default: "4" },
      queue: { type: "string", default: "32" },
      threads: { type: "string", default: "2" },
      "cache-mem": { type: "string", default: "64" },
      seed: { type: "string" },
      kinds: { type: "string" },
      json: { type: "string" },
      "rss-tolerance": { type: "string", default: "0.05" },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (e) {
  console.error(`${e.message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
// The integer value of --NAME, at least `least`; exits with the usage otherwise.
function integerFlag(name, least) {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < least) {
    console.error(`--${name}: expected an integer of at least ${least}, got ${opts[name]}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
if (opts.seed === undefined) opts.seed = String(Math.floor(Math.random() * 2 ** 31));
const config = {
  clients: integerFlag("clients", 1),
  durationS: integerFlag("duration", 1),
  parallel: integerFlag("parallel", 1),
  queue: integerFlag("queue", 0),
  threads: integerFlag("threads", 0),  // 0 = all cores
  cacheMemMiB: integerFlag("cache-mem", 0),
  seed: integerFlag("seed", 0),
};
const capacity = config.parallel + config.queue;  // requests the server holds before it refuses with 429

const BODY_LIMIT_BYTES = 8 << 20;  // whale serve's request body limit
const HANG_LIMIT_MS = 120_000;     // a request still unanswered after this counts as a hang
// A client that leaves still counts against --parallel + --queue until the server lets its request go, so the
// driver keeps counting it as in flight for a while: a stream left mid-answer is noticed at the next token
// write; a whole answer left while queued keeps its queue place until it reaches the front (the scheduler drops
// cancelled requests when it admits them), which takes about the time to run the queue ahead of it.
const LEFT_STREAM_GRACE_MS = 1000;
const LEFT_WAIT_GRACE_MS = 6000;
const WARMUP_SHARE = 0.2;     // the first fifth of the run is warm-up for the memory rule
const RSS_TOLERANCE = Number(opts["rss-tolerance"]);  // memory after warm-up may exceed the warm-up peak by this share
if (!(RSS_TOLERANCE >= 0)) {
  console.error(`--rss-tolerance: expected a number of at least 0, got ${opts["rss-tolerance"]}\n${USAGE}`);
  process.exit(2);
}
const SETTLE_LIMIT_MS = 30_000;
const progressEveryS = Math.min(30, Math.max(5, Math.round(config.durationS / 6)));

// ---- randomness: one seeded generator per client, so a run's mix can be repeated (timing aside) ----

function makeRandom(seed) {
  let state = (seed >>> 0) || 0x9e3779b9;
  return () => {  // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}
const between = (rand, low, high) => low + Math.floor(rand() * (high - low + 1));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- what the clients send ----

function question(rand) {
  switch (between(rand, 0, 2)) {
    case 0: return `What is ${between(rand, 100, 9999)} + ${between(rand, 100, 9999)}?`;
    case 1: return `Compute ${between(rand, 10, 999)}*${between(rand, 2, 99)}.`;
    default: return `What is ${between(rand, 1000, 9999)} - ${between(rand, 100, 999)}?`;
  }
}

// The same long system prompt opens a share of the chats, so their prefix comes from the context cache.
const SYSTEM_PROMPT = Array.from({ length: 4 }, (_, i) =>
  `Rule ${i + 1}: add the digits from the right, carry what exceeds nine, and check the result once more.`).join(" ");

function chatMessages(rand) {
  const messages = [];
  if (rand() < 0.4) messages.push({ role: "system", content: SYSTEM_PROMPT });
  if (rand() < 0.15) {  // a second turn: the first one's prefix may be cached too
    const first = question(rand);
    messages.push({ role: "user", content: first }, { role: "assistant", content: "I worked it out above." });
  }
  messages.push({ role: "user", content: question(rand) });
  return messages;
}

function sampling(rand) {
  if (rand() < 0.3) return { temperature: 0 };
  return { temperature: 0.6, top_p: 0.95, seed: between(rand, 1, 1e9) };
}

// A valid chat body just over the limit, built once: the server must refuse it with 413 before parsing.
const OVERSIZED_BODY = (() => {
  const head = '{"messages":[{"role":"user","content":"';
  const tail = '"}],"max_tokens":16}';
  const body = Buffer.alloc(BODY_LIMIT_BYTES + (64 << 10), "x");
  body.write(head, 0);
  body.write(tail, body.length - tail.length);
  return body;
})();

const CHAT = "/v1/chat/completions";
const COMPLETIONS = "/v1/completions";

// ---- the server's view: in flight, memory, metrics ----

// Counts the generation requests the server may be holding (running or queued), to judge each 429/503: it is
// expected only if, at some moment between sending and the answer, more than --parallel + --queue requests
// were in flight, this one included. Sent-but-unanswered (plus the grace of clients that left) is an upper
// bound of what the server holds.
class InFlight {
  constructor() {
    this.count = 0;
    this.peak = 0;
    this.open = new Set();  // tickets of requests not answered yet
  }
  enter() {
    const ticket = { peak: 0 };
    this.open.add(ticket);
    this.count++;
    this.peak = Math.max(this.peak, this.count);
    for (const t of this.open) t.peak = Math.max(t.peak, this.count);
    return ticket;
  }
  leave(ticket, graceMs) {
    this.open.delete(ticket);
    if (graceMs === 0) this.count--;
    else setTimeout(() => this.count--, graceMs).unref();
  }
}
const inFlight = new InFlight();

function parseMetrics(text) {
  const values = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

// whale_requests_total as {endpoint: {status: count}}.
function requestCounts(metrics) {
  const counts = {};
  for (const [name, value] of metrics) {
    const m = name.match(/^whale_requests_total\{endpoint="([^"]*)",status="(\d+)"\}$/);
    if (!m) continue;
    counts[m[1]] ??= {};
    counts[m[1]][m[2]] = value;
  }
  return counts;
}

function countsDelta(after, before) {
  const delta = {};
  for (const [endpoint, statuses] of Object.entries(after))
    for (const [status, n] of Object.entries(statuses)) {
      const d = n - (before[endpoint]?.[status] ?? 0);
      if (d !== 0) (delta[endpoint] ??= {})[status] = d;
    }
  return delta;
}

// The kernel's count of connections dropped because a listening socket's accept queue was full. It covers the
// whole machine, so it is only indicative; each such drop costs a client a SYN retransmit (1 s or more).
function listenOverflows() {
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
    const at = lines.findIndex((line) => line.startsWith("TcpExt:"));
    const names = lines[at].split(/\s+/);
    const values = lines[at + 1].split(/\s+/);
    return Number(values[names.indexOf("ListenOverflows")]);
  } catch {
    return null;
  }
}

function readRssKiB(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// ---- one request of each kind; each returns an outcome {status, ...} ----
// status is the HTTP status, or "left" (the client left on purpose), "network:CODE" or "hang".

// POSTs a generation request and reads the answer (streamed or whole). `leaveAfterChunks` makes a streaming
// client disconnect on purpose after that many chunks with text.
async function generate(path, body, leaveAfterChunks = Infinity) {
  const ticket = inFlight.enter();
  const controller = new AbortController();
  const start = performance.now();
  let left = false;
  let hung = false;
  const hangTimer = setTimeout(() => { hung = true; controller.abort(); }, HANG_LIMIT_MS);
  const outcome = { status: 0, endpoint: path === "/chat/completions" ? CHAT : path, stream: !!body.stream };
  try {
    const response = await fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    outcome.status = response.status;
    if (response.status !== 200) {
      outcome.retryAfterS = Number(response.headers.get("retry-after") ?? 1);
      outcome.bodyOk = isErrorBody(await untilAborted(response.text(), controller.signal));
    } else if (body.stream) {
      await readStream(response, controller.signal, start, outcome, !!body.stream_options?.include_usage, () => {
        if (outcome.textChunks < leaveAfterChunks) return false;
        left = true;
        controller.abort();
        return true;
      });
      if (left) outcome.status = "left";
    } else {
      checkWholeAnswer(await untilAborted(response.text(), controller.signal), outcome);
    }
    outcome.ms = performance.now() - start;
  } catch (e) {
    outcome.status = left ? "left" : hung ? "hang" : `network:${e.cause?.code ?? e.name}`;
    if (!left) outcome.detail = String(e.cause ?? e.message);
    outcome.ms = performance.now() - start;
  } finally {
    clearTimeout(hangTimer);
    inFlight.leave(ticket, left ? LEFT_STREAM_GRACE_MS : 0);
  }
  outcome.peakInFlight = ticket.peak;
  return outcome;
}

function checkWholeAnswer(text, outcome) {
  try {
    const answer = JSON.parse(text);
    const choice = answer.choices?.[0];
    outcome.bodyOk = (choice?.message !== undefined || typeof choice?.text === "string") &&
      Number.isInteger(answer.usage?.completion_tokens);
    outcome.tokens = answer.usage?.completion_tokens ?? 0;
  } catch {
    outcome.bodyOk = false;
  }
}

// A whole answer the client gives up on `afterMs` after its request is on the wire, unless the answer comes
// first. node:http says when the request has been handed to the socket; fetch does not, and a client that gave
// up before its connection was accepted would be a request the server never saw. One connection each, so that
// no request meets a kept-alive connection the server has just closed.
function leaveWhileWaiting(path, body, afterMs) {
  const ticket = inFlight.enter();
  const start = performance.now();
  const outcome = { status: 0, endpoint: path, stream: false };
  const payload = JSON.stringify(body);
  const request = http.request(base + path, { method: "POST", agent: false,
    headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } });
  return new Promise((resolve) => {
    let leaveTimer = null;
    const settle = (status, graceMs) => {
      if (outcome.status !== 0) return;
      clearTimeout(leaveTimer);
      clearTimeout(hangTimer);
      inFlight.leave(ticket, graceMs);
      Object.assign(outcome, { status, ms: performance.now() - start, peakInFlight: ticket.peak });
      resolve(outcome);
    };
    const hangTimer = setTimeout(() => {
      settle("hang", 0);
      request.destroy();
    }, HANG_LIMIT_MS);
    request.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => {
        if (response.statusCode === 200) {
          checkWholeAnswer(text, outcome);
        } else {
          outcome.retryAfterS = Number(response.headers["retry-after"] ?? 1);
          outcome.bodyOk = isErrorBody(text);
        }
        settle(response.statusCode, 0);
      });
    });
    request.on("error", (e) => {
      outcome.detail = String(e);
      settle(`network:${e.code ?? e.name}`, 0);
    });
    request.end(payload, () => {
      leaveTimer = setTimeout(() => {
        settle("left", LEFT_WAIT_GRACE_MS);
        request.destroy();
      }, afterMs);
    });
  });
}

// Node's fetch can leave a body read pending forever when the request is aborted between the headers and the
// end of the body; racing each read against the signal settles it either way.
function untilAborted(promise, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

// Reads SSE events; `shouldLeave` is asked after every chunk that carries text.
async function readStream(response, signal, start, outcome, wantUsage, shouldLeave) {
  outcome.textChunks = 0;
  outcome.tokens = 0;
  let done = false;
  let finish = null;
  let usage = null;
  let streamError = null;
  let pending = "";
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  for (;;) {
    const { value: bytes, done: ended } = await untilAborted(reader.read(), signal);
    if (ended) break;
    pending += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = pending.indexOf("\n\n")) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (event.startsWith(":")) continue;  // keep-alive comment
      if (event === "data: [DONE]") { done = true; continue; }
      const data = JSON.parse(event.slice("data: ".length));
      if (data.error) { streamError = data.error; continue; }
      if (data.usage) usage = data.usage;
      const choice = data.choices?.[0];
      if (!choice) continue;
      if (choice.finish_reason) finish = choice.finish_reason;
      const text = choice.delta ? (choice.delta.content || "") + (choice.delta.reasoning_content || "") : choice.text;
      if (!text) continue;
      outcome.textChunks++;
      outcome.ttftMs ??= performance.now() - start;
      if (shouldLeave()) {
        reader.cancel().catch(() => {});  // the abort already closed the connection
        return;
      }
    }
  }
  outcome.tokens = usage?.completion_tokens ?? outcome.textChunks;
  outcome.bodyOk = done && finish !== null && (usage !== null || !wantUsage) && streamError === null && pending === "";
  if (streamError) outcome.detail = `error event in the stream: ${JSON.stringify(streamError)}`;
}

function isErrorBody(text) {
  try {
    return typeof JSON.parse(text).error?.message === "string";
  } catch {
    return false;
  }
}

// Any other request: status, the body's check, time.
async function plain(method, path, body, checkBody) {
  const start = performance.now();
  const outcome = { status: 0, endpoint: path };
  try {
    const init = { method, signal: AbortSignal.timeout(HANG_LIMIT_MS) };
    if (body !== undefined) {
      init.body = body;
      init.headers = { "Content-Type": "application/json" };
    }
    const response = await fetch(base + path, init);
    outcome.status = response.status;
    const text = await untilAborted(response.text(), init.signal);
    try {
      outcome.bodyOk = checkBody(text);
    } catch {
      outcome.bodyOk = false;  // e.g. /health's body is not JSON
    }
  } catch (e) {
    outcome.status = e.name === "TimeoutError" ? "hang" : `network:${e.cause?.code ?? e.name}`;
    outcome.detail = String(e.cause ?? e.message);
  }
  outcome.ms = performance.now() - start;
  return outcome;
}

const generationEndpoint = (rand) => (rand() < 0.1 ? "/chat/completions" : CHAT);  // DeepSeek's path too

// expect: the statuses that are right for the kind; 429 and 503 are judged by the in-flight count instead.
const ALL_KINDS = [
  { name: "chat-stream", weight: 28, expect: [200], generates: true, run: (rand) =>
    generate(generationEndpoint(rand), { messages: chatMessages(rand), max_tokens: between(rand, 16, 64),
      stream: true, stream_options: { include_usage: true }, ...sampling(rand) }) },
  { name: "chat-whole", weight: 18, expect: [200], generates: true, run: (rand) =>
    generate(generationEndpoint(rand), { messages: chatMessages(rand), max_tokens: between(rand, 16, 64),
      ...sampling(rand) }) },
  { name: "completion", weight: 10, expect: [200], generates: true, run: (rand) => {
    const stream = rand() < 0.5;
    return generate(COMPLETIONS, { prompt: question(rand), max_tokens: between(rand, 16, 48), stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}), ...sampling(rand) });
  } },
  // Leaves after a few chunks of a long answer; 200 if the answer was shorter than that.
  { name: "leave-stream", weight: 8, expect: ["left", 200], generates: true, run: (rand) =>
    generate(CHAT, { messages: chatMessages(rand), max_tokens: 64, stream: true, ...sampling(rand) },
      between(rand, 1, 4)) },
  // Leaves while waiting for a whole answer (queued or generating); 200 if it came first.
  { name: "leave-answer", weight: 6, expect: ["left", 200], generates: true, run: (rand) => {
    const afterMs = between(rand, 10, 300);
    if (rand() < 0.7)
      return leaveWhileWaiting(CHAT, { messages: chatMessages(rand), max_tokens: 64, ...sampling(rand) }, afterMs);
    return leaveWhileWaiting(COMPLETIONS, { prompt: question(rand), max_tokens: 64, ...sampling(rand) }, afterMs);
  } },
  // Refused while reading, before any route: /metrics does not count it (endpoint null).
  { name: "oversized", weight: 1.5, expect: [413], run: async (rand) =>
    ({ ...await plain("POST", rand() < 0.5 ? CHAT : COMPLETIONS, OVERSIZED_BODY, isErrorBody), endpoint: null }) },
  { name: "bad-json", weight: 3, expect: [400], run: (rand) => {
    const bodies = ['{"messages": [', "not json", '{"messages":[{"role":"user","content":"hi"}]', '{"prompt": "1+1=",}'];
    return plain("POST", rand() < 0.5 ? CHAT : COMPLETIONS, bodies[between(rand, 0, bodies.length - 1)], isErrorBody);
  } },
  { name: "wrong-types", weight: 3, expect: [422], run: (rand) => {
    const chat = [{ messages: "What is 1 + 1?" }, { messages: [{ role: "user", content: 42 }] },
      { messages: [{ role: "user", content: "hi" }], max_tokens: "ten" },
      { messages: [{ role: "user", content: "hi" }], temperature: "hot" }];
    const completion = [{ prompt: "1+1=", max_tokens: -5 }, { prompt: "1+1=", stream: "yes" }];
    if (rand() < 0.6) return plain("POST", CHAT, JSON.stringify(chat[between(rand, 0, chat.length - 1)]), isErrorBody);
    return plain("POST", COMPLETIONS, JSON.stringify(completion[between(rand, 0, completion.length - 1)]), isErrorBody);
  } },
  { name: "unknown-path", weight: 2, expect: [404], run: (rand) =>
    rand() < 0.5 ? plain("POST", "/v1/chat/complete", '{"messages":[]}', isErrorBody)
      : plain("GET", `/v1/no-such-thing-${between(rand, 1, 1000)}`, undefined, isErrorBody) },
  { name: "health", weight: 3, expect: [200], run: () =>
    plain("GET", "/health", undefined, (text) => JSON.parse(text).status === "ok") },
  { name: "metrics", weight: 1.5, expect: [200], run: () =>
    plain("GET", "/metrics", undefined, (text) => text.includes("whale_requests_total")) },
];
// --kinds narrows the mix (to reproduce a finding with one kind of request).
const KINDS = (opts.kinds?.split(",") ?? ALL_KINDS.map((kind) => kind.name)).map((name) => {
  const kind = ALL_KINDS.find((k) => k.name === name);
  if (kind) return kind;
  console.error(`--kinds: no kind ${name}; the kinds are ${ALL_KINDS.map((k) => k.name).join(", ")}`);
  process.exit(2);
});
const totalWeight = KINDS.reduce((sum, kind) => sum + kind.weight, 0);
function pickKind(rand) {
  let r = rand() * totalWeight;
  for (const kind of KINDS) if ((r -= kind.weight) < 0) return kind;
  return KINDS.at(-1);
}

// ---- tallies ----

const isRefusal = (status) => status === 429 || status === 503;
const tally = new Map(KINDS.map((kind) =>
  [kind.name, { sent: 0, outcomes: {}, wrong: 0, ttftMs: [], latencyMs: [], tokens: 0 }]));
const byEndpoint = {};  // endpoint -> outcome label -> count (for the comparison with /metrics)
const wrongSamples = [];
let refusalsOverCapacity = 0;
let refusalsUnderCapacity = 0;
let finished = 0;

function label(outcome) {
  return outcome.bodyOk === false ? `${outcome.status} (bad body)` : String(outcome.status);
}

function record(kind, outcome) {
  const t = tally.get(kind.name);
  t.sent++;
  finished++;
  let name = label(outcome);
  let right = kind.expect.includes(outcome.status) && outcome.bodyOk !== false;
  if (isRefusal(outcome.status) && kind.generates) {
    // Right only while more than parallel + queue requests were in flight (this one included).
    right = outcome.bodyOk !== false && outcome.peakInFlight > capacity;
    if (right) refusalsOverCapacity++;
    else {
      refusalsUnderCapacity++;
      name += " under capacity";
    }
  }
  t.outcomes[name] = (t.outcomes[name] ?? 0) + 1;
  if (!right) {
    t.wrong++;
    if (wrongSamples.length < 20)
      wrongSamples.push({ atS: Number(elapsedS().toFixed(1)), kind: kind.name, outcome: name,
        endpoint: outcome.endpoint, inFlight: outcome.peakInFlight, detail: outcome.detail });
  }
  if (outcome.status === 200) {
    t.tokens += outcome.tokens ?? 0;
    if (outcome.ttftMs !== undefined && outcome.stream) t.ttftMs.push(outcome.ttftMs);
    else if (kind.generates && !outcome.stream) t.latencyMs.push(outcome.ms);
  }
  if (outcome.endpoint === CHAT || outcome.endpoint === COMPLETIONS) {
    const counts = (byEndpoint[outcome.endpoint] ??= {});
    const key = typeof outcome.status === "number" ? String(outcome.status) : outcome.status.split(":")[0];
    counts[key] = (counts[key] ?? 0) + 1;
    counts.sent = (counts.sent ?? 0) + 1;
  }
}

async function client(id) {
  const rand = makeRandom(config.seed + id * 7919);
  while (performance.now() < deadline && !stopEarly) {
    const kind = pickKind(rand);
    const outcome = await kind.run(rand);
    record(kind, outcome);
    // Retry-After is honoured, with a little jitter so the refused clients do not come back in step.
    if (isRefusal(outcome.status)) await sleep(1000 * (outcome.retryAfterS || 1) + between(rand, 0, 250));
  }
}

// ---- the run ----

process.env.WHALE ??= "build/whale";
let server = null;  // {base, proc, log} when this driver started it
let base = opts.url?.replace(/\/$/, "");
let pid = opts.pid ? Number(opts.pid) : null;
let target;
if (!base) {
  const args = opts.toy ? ["--toy", "--toy-step-ms", "5"] : ["-m", opts.model];
  args.push("--parallel", String(config.parallel), "--queue", String(config.queue), "--threads", String(config.threads));
  args.push("--cache-mem", String(config.cacheMemMiB));
  server = await startServer(args, { timeoutMs: 300_000, logLimit: 1 << 20 });
  base = server.base;
  pid = server.proc.pid;
  target = `whale serve ${args.join(" ")} (pid ${pid})`;
} else {
  target = `${base}${pid ? ` (pid ${pid})` : ""}`;
}

async function metricsNow() {
  const signal = AbortSignal.timeout(10_000);
  const response = await fetch(`${base}/metrics`, { signal });
  if (!response.ok) throw new Error(`GET /metrics: HTTP ${response.status}`);
  return parseMetrics(await untilAborted(response.text(), signal));
}

async function healthNow() {
  const signal = AbortSignal.timeout(10_000);
  const response = await fetch(`${base}/health`, { signal });
  return { status: response.status, body: JSON.parse(await untilAborted(response.text(), signal)) };
}

const health = await healthNow();
const modelName = health.body.model;
const metricsBefore = await metricsNow();
const overflowsBefore = listenOverflows();

const startedAt = performance.now();
const startedDate = new Date();
const deadline = startedAt + config.durationS * 1000;
let stopEarly = null;  // why the clients stopped before the deadline
let serverExit = null;  // the server's exit before this driver stopped it
let stopping = false;
server?.proc.on("exit", (code, signal) => {
  if (stopping) return;
  serverExit = { code, signal, atS: (performance.now() - startedAt) / 1000 };
  stopEarly ??= `the server exited (code ${code}, signal ${signal})`;
});
const elapsedS = () => (performance.now() - startedAt) / 1000;

// Memory and the context cache's size, every second.
const memory = [];  // {t, rssKiB, cacheBytes}
let samplerBusy = false;
const sampler = setInterval(async () => {
  if (samplerBusy) return;
  samplerBusy = true;
  const sample = { t: elapsedS(), rssKiB: pid ? readRssKiB(pid) : null, cacheBytes: null };
  try {
    sample.cacheBytes = (await metricsNow()).get("whale_context_cache_bytes") ?? null;
  } catch {
    // Counted by the clients' own /metrics requests if it persists; the sample keeps the memory figure.
  }
  memory.push(sample);
  samplerBusy = false;
}, 1000);

// ---- progress ----

const mib = (kib) => (kib / 1024).toFixed(1);
let lastProgress = { t: 0, finished: 0 };
const progress = setInterval(() => {
  const t = elapsedS();
  const rate = (finished - lastProgress.finished) / (t - lastProgress.t);
  lastProgress = { t, finished };
  const statuses = {};
  for (const { outcomes } of tally.values())
    for (const [name, n] of Object.entries(outcomes)) statuses[name] = (statuses[name] ?? 0) + n;
  const rss = memory.at(-1)?.rssKiB;
  console.log(`[${t.toFixed(0).padStart(4)} s] ${finished} requests (${rate.toFixed(1)}/s), in flight ${inFlight.count}` +
    `${rss ? `, RSS ${mib(rss)} MiB` : ""}; ${Object.entries(statuses).map(([s, n]) => `${s}: ${n}`).join(", ")}`);
}, progressEveryS * 1000);

console.log(`soak: ${target}, model ${modelName}; ${config.clients} clients for ${config.durationS} s ` +
  `(--parallel ${config.parallel} --queue ${config.queue}), seed ${config.seed}`);
await Promise.all(Array.from({ length: config.clients }, (_, i) => client(i)));
const runS = elapsedS();
clearInterval(progress);
const overflowsDuring = overflowsBefore === null ? null : listenOverflows() - overflowsBefore;

// ---- after the run: let the server finish what the left clients started, then compare ----

const checks = [];
const check = (name, ok, detail = "") => checks.push({ name, ok: !!ok, detail });

let settled = false;
let lastHealth = null;
for (const until = performance.now() + SETTLE_LIMIT_MS; performance.now() < until && !serverExit;) {
  try {
    lastHealth = (await healthNow()).body;
    if (lastHealth.running === 0 && lastHealth.queued === 0) {
      settled = true;
      break;
    }
  } catch {
    // Judged below by the final /health.
  }
  await sleep(200);
}

// Every request that reached an API endpoint must appear in whale_requests_total once; the left clients'
// entries are written as the server notices, so wait (briefly) for the counts to add up.
let serverCounts = {};
let serverTokens = null;
for (const until = performance.now() + 5000; !serverExit;) {
  try {
    const after = await metricsNow();
    serverCounts = countsDelta(requestCounts(after), requestCounts(metricsBefore));
    const generatedTokens = (metrics) => metrics.get("whale_completion_tokens_total") ?? 0;
    serverTokens = generatedTokens(after) - generatedTokens(metricsBefore);
  } catch {
    break;
  }
  const counted = (endpoint) => Object.values(serverCounts[endpoint] ?? {}).reduce((a, b) => a + b, 0);
  if ([CHAT, COMPLETIONS].every((e) => counted(e) === (byEndpoint[e]?.sent ?? 0)) || performance.now() > until) break;
  await sleep(250);
}
await sleep(1100);  // one more memory sample after the run
clearInterval(sampler);

let finalHealth = null;
try {
  finalHealth = await healthNow();
} catch (e) {
  finalHealth = { status: `network:${e.cause?.code ?? e.name}` };
}
const alive = server ? serverExit === null : true;
check("the server is alive and answers /health", alive && finalHealth.status === 200 && finalHealth.body?.status === "ok",
  serverExit ? `exited at ${serverExit.atS.toFixed(1)} s with code ${serverExit.code}, signal ${serverExit.signal}`
    : `GET /health: ${finalHealth.status}`);
check("the server finished every request (nothing running or queued after the run)", settled,
  settled ? "" : `after ${SETTLE_LIMIT_MS / 1000} s: ${JSON.stringify(lastHealth)}`);

const kindRows = [...tally.entries()];
const hangs = kindRows.reduce((n, [, t]) => n + (t.outcomes.hang ?? 0), 0);
check(`no request hung (unanswered after ${HANG_LIMIT_MS / 1000} s)`, hangs === 0, `${hangs} hung`);

const serverErrors = Object.entries(serverCounts).flatMap(([endpoint, statuses]) =>
  Object.entries(statuses).filter(([s]) => Number(s) >= 500 && s !== "503").map(([s, n]) => `${endpoint} ${s}: ${n}`));
const clientErrors = kindRows.flatMap(([name, t]) =>
  Object.entries(t.outcomes).filter(([s]) => /^5\d\d/.test(s) && !s.startsWith("503"))
    .map(([s, n]) => `${name} ${s}: ${n}`));
check("no 500s (answers and /metrics)", serverErrors.length === 0 && clientErrors.length === 0,
  [...serverErrors, ...clientErrors].join("; "));
check(`429/503 only while more than ${capacity} (parallel + queue) requests were in flight`, refusalsUnderCapacity === 0,
  `${refusalsOverCapacity} over capacity, ${refusalsUnderCapacity} under`);
for (const [name, t] of kindRows) {
  const kind = KINDS.find((k) => k.name === name);
  const wrong = Object.entries(t.outcomes).filter(([s]) =>
    !(kind.expect.map(String).includes(s) || (kind.generates && /^(429|503)$/.test(s))));
  check(`${name}: ${kind.expect.join(" or ")}${kind.generates ? " (or 429/503 over capacity)" : ""}`,
    t.sent > 0 && wrong.length === 0, t.sent === 0 ? "never sent" : wrong.map(([s, n]) => `${s}: ${n}`).join(", "));
}
const generated = kindRows.filter(([name]) => KINDS.find((k) => k.name === name).generates)
  .reduce((n, [, t]) => n + (t.outcomes["200"] ?? 0), 0);
check("answers were generated", generated > 0, `${generated} answered`);

// /metrics against what the clients saw, per generation endpoint. Every request that reached the endpoint is
// counted once; what a client saw is counted as such; a client that left is counted 499 unless the server had
// settled it first (answered, refused, or rejected before the disconnect was seen).
const accounting = {};
for (const endpoint of [CHAT, COMPLETIONS]) {
  const seen = byEndpoint[endpoint] ?? {};
  const counted = serverCounts[endpoint] ?? {};
  const n = (counts, key) => counts[key] ?? 0;
  const total = Object.values(counted).reduce((a, b) => a + b, 0);
  accounting[endpoint] = { client: seen, server: counted };
  check(`${endpoint}: every request that reached it is counted once in whale_requests_total`, total === n(seen, "sent"),
    `${total} counted, ${n(seen, "sent")} sent`);
  const undercounted = Object.keys(seen).filter((s) => /^\d+$/.test(s) && n(counted, s) < n(seen, s));
  check(`${endpoint}: every status the clients saw is counted`, undercounted.length === 0,
    undercounted.map((s) => `${s}: ${n(counted, s)} counted, ${n(seen, s)} seen`).join("; "));
  check(`${endpoint}: clients that left are counted as 499`,
    n(counted, "499") <= n(seen, "left") && (n(seen, "left") === 0 || n(counted, "499") > 0),
    `${n(seen, "left")} left, ${n(counted, "499")} counted as 499`);
}

// Memory: the peak RSS of the last third against the peak of the warm-up (first fifth). The shared context
// cache grows by design up to --cache-mem, so the driver starts the server with a small one (64 MiB) that
// fills during warm-up; after that the cache only churns, and the RSS must stay flat. RSS less the cache's KV
// bytes (whale_context_cache_bytes) is reported beside it.
const withRss = memory.filter((s) => s.rssKiB !== null);
const peak = (samples, f) => Math.max(...samples.map(f));
const rss = (s) => s.rssKiB;
const rssLessCache = (s) => s.rssKiB - (s.cacheBytes ?? 0) / 1024;
const warmup = withRss.filter((s) => s.t <= runS * WARMUP_SHARE);
const lastThird = withRss.filter((s) => s.t >= runS * (2 / 3) && s.t <= runS);
const memoryRule = `max RSS over the last third <= ${1 + RSS_TOLERANCE} x max RSS over the warm-up ` +
  `(first ${WARMUP_SHARE * 100}% of the run)`;
let memoryFigures = null;
if (warmup.length > 0 && lastThird.length > 0) {
  memoryFigures = {
    warmup_max_kib: peak(warmup, rss), last_third_max_kib: peak(lastThird, rss),
    growth: peak(lastThird, rss) / peak(warmup, rss) - 1,
    less_cache_warmup_max_kib: Math.round(peak(warmup, rssLessCache)),
    less_cache_last_third_max_kib: Math.round(peak(lastThird, rssLessCache)),
    cache_max_bytes: peak(withRss, (s) => s.cacheBytes ?? 0),
  };
  check(`memory flat: ${memoryRule}`, memoryFigures.growth <= RSS_TOLERANCE,
    `${mib(memoryFigures.warmup_max_kib)} -> ${mib(memoryFigures.last_third_max_kib)} MiB ` +
    `(${(memoryFigures.growth * 100).toFixed(1)}%)`);
} else {
  check(`memory flat: ${memoryRule}`, !pid, pid ? "too few samples" : "not measured (no --pid)");
}

// A server this driver started must stop cleanly: SIGTERM drains and exits 0.
let shutdown = null;
if (server && !serverExit) {
  const t0 = performance.now();
  stopping = true;
  server.proc.kill("SIGTERM");
  await Promise.race([new Promise((resolve) => server.proc.once("exit", resolve)), sleep(45_000)]);
  shutdown = { code: server.proc.exitCode, signal: server.proc.signalCode, ms: Math.round(performance.now() - t0) };
  check("SIGTERM stops the server cleanly (exit 0)", shutdown.code === 0, JSON.stringify(shutdown));
}

// ---- report ----

const percentile = (values, p) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const ttfts = kindRows.flatMap(([, t]) => t.ttftMs);
const latencies = kindRows.flatMap(([, t]) => t.latencyMs);
const clientTokens = kindRows.reduce((n, [, t]) => n + t.tokens, 0);
const statusTotals = {};
for (const [, t] of kindRows)
  for (const [s, n] of Object.entries(t.outcomes)) statusTotals[s] = (statusTotals[s] ?? 0) + n;

// RSS per progress interval: min-max, and the context cache at the interval's end.
const timeline = [];
for (let from = 0; from < runS + 1; from += progressEveryS) {
  const samples = withRss.filter((s) => s.t >= from && s.t < from + progressEveryS);
  if (samples.length === 0) continue;
  timeline.push({ from_s: from, to_s: Math.min(from + progressEveryS, Math.ceil(samples.at(-1).t)),
    rss_min_kib: Math.min(...samples.map((s) => s.rssKiB)), rss_max_kib: peak(samples, (s) => s.rssKiB),
    cache_bytes: samples.at(-1).cacheBytes });
}

const fmtMs = (ms) => (ms === null ? "-" : `${ms.toFixed(0)} ms`);
console.log(`\nsoak report: ${target}`);
console.log(`model ${modelName}; ${config.clients} clients, ${runS.toFixed(0)} s` +
  `${stopEarly ? ` (stopped early: ${stopEarly})` : ""}, seed ${config.seed}, started ${startedDate.toISOString()}`);
console.log(`requests: ${finished} (${(finished / runS).toFixed(1)}/s)`);
for (const [name, t] of kindRows)
  console.log(`  ${name.padEnd(17)} ${String(t.sent).padStart(7)}  ` +
    Object.entries(t.outcomes).map(([s, n]) => `${s}: ${n}`).join(", "));
const spread = (values) => `p50 ${fmtMs(percentile(values, 50))}, p99 ${fmtMs(percentile(values, 99))}, ` +
  `max ${fmtMs(percentile(values, 100))} (n=${values.length})`;
console.log(`time to first token (streamed, answered): ${spread(ttfts)}`);
console.log(`latency (whole answers): ${spread(latencies)}`);
console.log(`tokens/s: ${(clientTokens / runS).toFixed(0)} in answers received, ` +
  `${serverTokens === null ? "-" : (serverTokens / runS).toFixed(0)} generated ` +
  "(whale_completion_tokens_total, left clients' too)");
console.log(`outcomes by status: ${Object.entries(statusTotals).sort().map(([s, n]) => `${s}: ${n}`).join(", ")}`);
console.log(`whale_requests_total during the run: ${JSON.stringify(serverCounts)}`);
console.log(`peak in flight (generation requests): ${inFlight.peak}; 429/503: ${refusalsOverCapacity} over capacity, ` +
  `${refusalsUnderCapacity} under; listen queue overflows (whole machine): ${overflowsDuring ?? "-"}`);
if (timeline.length > 0) {
  console.log(`RSS per ${progressEveryS} s (MiB, min-max; context cache at the end):`);
  console.log("  " + timeline.map((r) => `${r.from_s}-${r.to_s} s ${mib(r.rss_min_kib)}-${mib(r.rss_max_kib)}` +
    `${r.cache_bytes === null ? "" : ` (cache ${(r.cache_bytes / 2 ** 20).toFixed(1)})`}`).join(" | "));
}
if (memoryFigures)
  console.log(`memory rule: ${memoryRule}: ${mib(memoryFigures.warmup_max_kib)} -> ` +
    `${mib(memoryFigures.last_third_max_kib)} MiB (${(memoryFigures.growth * 100).toFixed(1)}%); RSS less the ` +
    `context cache ${mib(memoryFigures.less_cache_warmup_max_kib)} -> ` +
    `${mib(memoryFigures.less_cache_last_third_max_kib)} MiB`);
if (wrongSamples.length > 0) {
  console.log("first wrong outcomes:");
  for (const s of wrongSamples) console.log(`  ${JSON.stringify(s)}`);
}
console.log("verdict:");
for (const c of checks) console.log(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}${c.detail ? ` — ${c.detail}` : ""}`);
const pass = checks.every((c) => c.ok);
if (!pass && server) console.log(`server log (tail):\n${server.log().split("\n").slice(-30).join("\n")}`);
console.log(pass ? "PASS" : "FAIL");

if (opts.json) {
  const report = {
    target, model: modelName, config: { ...config, capacity, url: opts.url ?? null, toy: opts.toy,
      model_path: opts.url || opts.toy ? null : opts.model, cache_mem_mib: opts.url ? null : config.cacheMemMiB },
    started: startedDate.toISOString(), run_s: runS, stopped_early: stopEarly,
    requests: finished, kinds: Object.fromEntries(kindRows.map(([name, t]) =>
      [name, { sent: t.sent, outcomes: t.outcomes, wrong: t.wrong, tokens: t.tokens }])),
    ttft_ms: { p50: percentile(ttfts, 50), p99: percentile(ttfts, 99), max: percentile(ttfts, 100), n: ttfts.length },
    latency_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: percentile(latencies, 100),
      n: latencies.length },
    listen_overflows: overflowsDuring,
    tokens_per_s: { answered: clientTokens / runS, generated: serverTokens === null ? null : serverTokens / runS },
    statuses: statusTotals, server_requests: serverCounts, accounting, peak_in_flight: inFlight.peak,
    refusals: { over_capacity: refusalsOverCapacity, under_capacity: refusalsUnderCapacity },
    memory: { rule: memoryRule, figures: memoryFigures, timeline, samples: memory }, shutdown,
    wrong_samples: wrongSamples, checks, pass,
  };
  writeFileSync(opts.json, JSON.stringify(report, null, 1) + "\n");
}
process.exit(pass ? 0 : 1);
