// whale's chat page: wires the composer, the conversation list and the streamed answers together.
import "./style.css";
import { ApiError, list_models, stream_chat, type ChatMessage, type ModelInfo, type Usage } from "./api";
import { fill_icons } from "./icons";
import {
  load_conversations, load_settings, new_id, save_conversations, save_settings, title_from,
  type Conversation, type Message,
} from "./store";
import { split_think } from "./think";
import { copy_text, flash_copied, MessageView, render_chat_list } from "./view";

function $<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const ui = {
  sidebar: $("sidebar"), scrim: $("scrim"), menu: $("menu"), chat_list: $("chat-list"), new_chat: $("new-chat"),
  title: $("chat-title"), model_name: $("model-name"), ctx: $("ctx-use"), ctx_bar: $("ctx-bar"),
  ctx_text: $("ctx-text"), scroller: $("scroller"), empty: $("empty"), messages: $("messages"),
  form: $<HTMLFormElement>("form"), input: $<HTMLTextAreaElement>("input"), deepthink: $("deepthink"),
  send: $<HTMLButtonElement>("send"), stop: $("stop"), settings: $<HTMLDialogElement>("settings"),
  settings_open: $("settings-open"), api_key: $<HTMLInputElement>("api-key"), settings_save: $("settings-save"),
};

const settings = load_settings();
let conversations: Conversation[] = load_conversations();
let current: Conversation | null = null;
let model: ModelInfo | null = null;

// The one answer being generated (one at a time): which message, its abort handle and its clock.
interface Active {
  conv: Conversation;
  message: Message;
  controller: AbortController;
  think_started: number | null;
}
let active: Active | null = null;
let views: MessageView[] = [];
let frame = 0;
let stick_to_bottom = true;

function persist(): void {
  save_conversations(conversations);
}

function refresh_list(): void {
  render_chat_list(ui.chat_list, conversations, current?.id ?? null, open_conversation, delete_conversation);
}

function update_context_gauge(): void {
  const last = current?.messages.filter((m) => m.role === "assistant" && m.stats?.total_tokens).at(-1);
  const used = last?.stats?.total_tokens ?? null;
  ui.ctx.hidden = used === null;
  if (used === null) return;
  const limit = model?.context_length ?? null;
  if (limit) {
    const pct = Math.min(100, (100 * used) / limit);
    ui.ctx_bar.style.width = `${pct}%`;
    ui.ctx_text.textContent = `${used.toLocaleString("en-US")} / ${limit.toLocaleString("en-US")} tokens`;
    ui.ctx.classList.toggle("full", pct > 85);
  } else {
    ui.ctx_bar.style.width = "0";
    ui.ctx_text.textContent = `${used.toLocaleString("en-US")} tokens`;
  }
}

function render_conversation(): void {
  const msgs = current?.messages ?? [];
  views = msgs.map((m, i) => new MessageView(m, i, settings.deep_think, { copy: on_copy, regenerate }));
  ui.messages.replaceChildren(...views.map((v) => v.root));
  ui.empty.hidden = msgs.length > 0;
  ui.title.textContent = current && msgs.length ? current.title : "";
  document.title = current && msgs.length ? `${current.title} · whale` : "whale chat";
  update_views();
  update_context_gauge();
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
}

function update_views(): void {
  const now = performance.now();
  views.forEach((v, i) => {
    const streaming = active !== null && active.conv === current && active.message === current?.messages[i];
    v.update(streaming, i === views.length - 1, now, streaming ? (active as Active).think_started : null);
  });
  if (stick_to_bottom) ui.scroller.scrollTop = ui.scroller.scrollHeight;
}

function schedule_update(): void {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    update_views();
  });
}

function set_busy(busy: boolean): void {
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  update_send_enabled();
}

function update_send_enabled(): void {
  ui.send.disabled = ui.input.value.trim() === "" || active !== null || model === null;
}

function open_conversation(id: string): void {
  current = conversations.find((c) => c.id === id) ?? null;
  stick_to_bottom = true;
  render_conversation();
  refresh_list();
  close_sidebar();
}

function delete_conversation(id: string): void {
  if (active?.conv.id === id) active.controller.abort();
  conversations = conversations.filter((c) => c.id !== id);
  if (current?.id === id) current = null;
  persist();
  render_conversation();
  refresh_list();
}

function new_chat(): void {
  current = null;
  render_conversation();
  refresh_list();
  close_sidebar();
  ui.input.focus();
}

function api_messages(conv: Conversation, upto: number): ChatMessage[] {
  // Earlier chains of thought are not sent back (the R1 templates drop them anyway); failed turns are skipped.
  return conv.messages.slice(0, upto)
    .filter((m) => !(m.role === "assistant" && (m.error || m.content === "")))
    .map((m) => ({ role: m.role, content: m.content }));
}

async function generate(conv: Conversation): Promise<void> {
  if (!model) return;
  const message: Message = { role: "assistant", content: "", reasoning: "" };
  const history = api_messages(conv, conv.messages.length);
  conv.messages.push(message);
  conv.updated = Date.now();
  const controller = new AbortController();
  active = { conv, message, controller, think_started: null };
  set_busy(true);
  if (current === conv) render_conversation();
  const ticker = setInterval(schedule_update, 1000); // the "Thinking… Ns" clock moves without tokens
  let first_token: number | null = null;
  let content_started: number | null = null;
  let deltas = 0;
  let usage: Usage | null = null;
  let raw_content = "";
  let got_reasoning_field = false;
  const touch = () => {
    deltas += 1;
    first_token ??= performance.now();
    if (message.reasoning && active) active.think_started ??= performance.now();
    if (message.content) content_started ??= performance.now();
    if (current === conv) schedule_update();
  };
  try {
    await stream_chat({ model: model.id, messages: history, deep_think: settings.deep_think,
      api_key: settings.api_key, signal: controller.signal }, {
      on_reasoning(text) {
        got_reasoning_field = true;
        message.reasoning += text;
        touch();
      },
      on_content(text) {
        raw_content += text;
        if (got_reasoning_field) {
          message.content = raw_content;
        } else {
          const split = split_think(raw_content);
          message.reasoning = split.reasoning;
          message.content = split.content;
        }
        touch();
      },
      on_usage(u) {
        usage = u;
      },
      on_finish() {},
    });
  } catch (e) {
    if (controller.signal.aborted) {
      message.stopped = true;
    } else if (e instanceof ApiError) {
      message.error = e.status === 401 ? `${e.message} — set the API key (bottom left).` : e.message;
    } else {
      message.error = `Connection failed: ${(e as Error).message}`;
    }
  } finally {
    clearInterval(ticker);
  }
  const ended = performance.now();
  const think_start = active?.think_started ?? null;
  if (message.reasoning && think_start !== null) message.think_ms = (content_started ?? ended) - think_start;
  if (!message.reasoning) delete message.reasoning;
  const u = usage as Usage | null;
  const completion = u?.completion_tokens || deltas;
  const gen_seconds = first_token === null ? 0 : (ended - first_token) / 1000;
  if (completion > 0) {
    message.stats = {
      completion_tokens: completion,
      // The first token's wait is prefill; the rate counts the tokens after it over the time they took.
      tokens_per_second: gen_seconds > 0.05 && completion > 1 ? (completion - 1) / gen_seconds : null,
      total_tokens: u?.total_tokens ?? null,
      reasoning_tokens: u?.reasoning_tokens ?? null,
      cached_tokens: u?.cached_tokens ?? null,
      model: model?.id ?? "",
    };
  }
  active = null;
  conv.updated = Date.now();
  set_busy(false);
  persist();
  refresh_list();
  if (current === conv) {
    update_views();
    update_context_gauge();
  }
}

function send(): void {
  const text = ui.input.value.trim();
  if (!text || active || !model) return;
  if (!current) {
    current = { id: new_id(), title: title_from(text), created: Date.now(), updated: Date.now(), messages: [] };
    conversations.unshift(current);
  }
  const conv = current;
  conv.messages.push({ role: "user", content: text });
  conversations = [conv, ...conversations.filter((c) => c !== conv)];
  ui.input.value = "";
  autosize();
  stick_to_bottom = true;
  persist();
  refresh_list();
  void generate(conv);
}

function regenerate(index: number): void {
  if (!current || active || index !== current.messages.length - 1) return;
  current.messages.splice(index, 1);
  stick_to_bottom = true;
  void generate(current);
}

function on_copy(index: number, button: HTMLElement): void {
  const m = current?.messages[index];
  if (!m) return;
  copy_text(m.content).then(() => flash_copied(button), () => undefined);
}

function autosize(): void {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 240)}px`;
  update_send_enabled();
}

function close_sidebar(): void {
  document.body.classList.remove("sidebar-open");
  ui.scrim.hidden = true;
}

function show_deepthink(): void {
  ui.deepthink.setAttribute("aria-pressed", String(settings.deep_think));
}

async function load_model(): Promise<void> {
  try {
    const models = await list_models(settings.api_key);
    model = models[0] ?? null;
    ui.model_name.textContent = model ? model.id : "no model loaded";
    ui.model_name.classList.toggle("bad", model === null);
  } catch (e) {
    model = null;
    const auth = e instanceof ApiError && e.status === 401;
    ui.model_name.textContent = auth ? "API key needed" : "server unreachable";
    ui.model_name.classList.add("bad");
    if (!auth) setTimeout(() => void load_model(), 3000);
  }
  update_send_enabled();
  update_context_gauge();
}

function wire(): void {
  fill_icons(document);
  ui.form.addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  ui.input.addEventListener("input", autosize);
  ui.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  ui.stop.addEventListener("click", () => active?.controller.abort());
  ui.new_chat.addEventListener("click", new_chat);
  ui.deepthink.addEventListener("click", () => {
    settings.deep_think = !settings.deep_think;
    save_settings(settings);
    show_deepthink();
  });
  ui.menu.addEventListener("click", () => {
    document.body.classList.add("sidebar-open");
    ui.scrim.hidden = false;
  });
  ui.scrim.addEventListener("click", close_sidebar);
  ui.scroller.addEventListener("scroll", () => {
    const s = ui.scroller;
    stick_to_bottom = s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  });
  ui.messages.addEventListener("click", (e) => {
    const btn = (e.target as HTMLElement).closest<HTMLElement>(".code-copy");
    const code = btn?.closest(".code")?.querySelector("code");
    if (btn && code) copy_text(code.textContent ?? "").then(() => flash_copied(btn), () => undefined);
  });
  ui.settings_open.addEventListener("click", () => {
    ui.api_key.value = settings.api_key;
    ui.settings.showModal();
  });
  ui.settings.addEventListener("close", () => {
    if (ui.settings.returnValue !== "save") return;
    settings.api_key = ui.api_key.value.trim();
    save_settings(settings);
    void load_model();
  });
  window.addEventListener("pagehide", persist); // keep a half-streamed answer if the tab closes
  window.addEventListener("storage", (e) => {
    // Another tab changed the list: pick it up unless this tab is mid-answer.
    if (e.key && e.key.startsWith("whale.chats") && !active) {
      conversations = load_conversations();
      current = conversations.find((c) => c.id === current?.id) ?? null;
      render_conversation();
      refresh_list();
    }
  });
}

wire();
show_deepthink();
current = conversations[0] ?? null;
render_conversation();
refresh_list();
void load_model();
ui.input.focus();
