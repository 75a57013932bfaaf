// Talks to whale's OpenAI/DeepSeek-shaped API: the model list and a streamed chat completion read as
// server-sent events (reasoning_content deltas first, then content, then a usage chunk).

export interface ModelInfo {
  id: string;
  context_length: number | null; // tokens, when the server says; used for the "context use" gauge
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  reasoning_tokens?: number;
  cached_tokens?: number;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface StreamHandlers {
  on_reasoning(text: string): void;
  on_content(text: string): void;
  on_usage(usage: Usage): void;
  on_finish(reason: string): void;
}

export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

function headers(api_key: string): Record<string, string> {
  const h: Record<string, string> = { "Content-Type": "application/json" };
  if (api_key) h["Authorization"] = `Bearer ${api_key}`;
  return h;
}

function positive_int(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : null;
}

// The context length is not part of OpenAI's model object; servers put it under different names.
function context_length_of(m: Record<string, unknown>): number | null {
  const meta = (m.meta ?? {}) as Record<string, unknown>;
  return positive_int(m.context_length) ?? positive_int(m.max_context_length) ??
    positive_int(m.n_ctx) ?? positive_int(meta.n_ctx) ?? positive_int(meta.context_length);
}

export async function list_models(api_key: string): Promise<ModelInfo[]> {
  const res = await fetch("/v1/models", { headers: headers(api_key) });
  if (!res.ok) throw new ApiError(await error_text(res), res.status);
  const body = (await res.json()) as { data?: unknown };
  if (!Array.isArray(body.data)) return [];
  return body.data
    .filter((m): m is Record<string, unknown> => typeof m === "object" && m !== null && typeof m.id === "string")
    .map((m) => ({ id: m.id as string, context_length: context_length_of(m) }));
}

async function error_text(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") return body.error.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim() || `${res.status} ${res.statusText}`;
}

function read_usage(u: Record<string, unknown>): Usage {
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  const details = (u.completion_tokens_details ?? {}) as Record<string, unknown>;
  const prompt_details = (u.prompt_tokens_details ?? {}) as Record<string, unknown>;
  return {
    prompt_tokens: num(u.prompt_tokens),
    completion_tokens: num(u.completion_tokens),
    total_tokens: num(u.total_tokens) || num(u.prompt_tokens) + num(u.completion_tokens),
    reasoning_tokens: num(details.reasoning_tokens),
    cached_tokens: num(prompt_details.cached_tokens) || num(u.prompt_cache_hit_tokens),
  };
}

function handle_event(data: string, h: StreamHandlers): boolean {
  if (data === "[DONE]") return true;
  let chunk: Record<string, unknown>;
  try {
    chunk = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return false; // a malformed event is skipped rather than ending the answer
  }
  if (chunk.error && typeof chunk.error === "object") {
    const message = (chunk.error as { message?: unknown }).message;
    throw new ApiError(typeof message === "string" ? message : "server error", 500);
  }
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  for (const choice of choices as Array<Record<string, unknown>>) {
    const delta = (choice.delta ?? {}) as Record<string, unknown>;
    if (typeof delta.reasoning_content === "string" && delta.reasoning_content) h.on_reasoning(delta.reasoning_content);
    if (typeof delta.content === "string" && delta.content) h.on_content(delta.content);
    if (typeof choice.finish_reason === "string") h.on_finish(choice.finish_reason);
  }
  if (chunk.usage && typeof chunk.usage === "object") h.on_usage(read_usage(chunk.usage as Record<string, unknown>));
  return false;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  deep_think: boolean;
  api_key: string;
  signal: AbortSignal;
}

// With DeepThink off the page asks the server to skip the chain of thought with DeepSeek's
// `thinking: {type: "disabled"}`; a server that cannot do that may ignore it (the page then keeps the thought
// folded). With DeepThink on nothing extra is sent: reasoning models think by default.
export function request_body(req: Omit<ChatRequest, "api_key" | "signal">): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: req.model,
    messages: req.messages,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (!req.deep_think) body.thinking = { type: "disabled" };
  return body;
}

export async function stream_chat(req: ChatRequest, h: StreamHandlers): Promise<void> {
  const res = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: headers(req.api_key),
    body: JSON.stringify(request_body(req)),
    signal: req.signal,
  });
  if (!res.ok || !res.body) throw new ApiError(await error_text(res), res.status);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
      if (line === "") {
        // A blank line ends one event; its data lines join with newlines (SSE rules).
        if (data.length && handle_event(data.join("\n"), h)) {
          await reader.cancel().catch(() => undefined);
          return;
        }
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
      // ":" comments (keep-alive) and other fields are ignored.
    }
  }
  if (data.length) handle_event(data.join("\n"), h);
}
