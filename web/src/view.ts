// DOM for one conversation turn and for the conversation list. Text from the model only ever reaches the page
// through render_markdown (sanitized) or textContent.
import { render_markdown } from "./markdown";
import { typeset_math } from "./math";
import { icon } from "./icons";
import type { Conversation, Message } from "./store";

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", html = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (html) e.innerHTML = html; // only for our own constant markup (icons)
  return e;
}

export function seconds_label(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  return `Thought for ${s} second${s === 1 ? "" : "s"}`;
}

function format_count(n: number): string {
  return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : n.toLocaleString("en-US");
}

export function stats_text(m: Message): string {
  const s = m.stats;
  if (!s) return "";
  const parts = [`${format_count(s.completion_tokens)} tokens`];
  if (s.tokens_per_second !== null && Number.isFinite(s.tokens_per_second)) {
    parts.push(`${s.tokens_per_second.toFixed(1)} tok/s`);
  }
  if (s.cached_tokens) parts.push(`${format_count(s.cached_tokens)} cached`);
  return parts.join(" · ");
}

export async function copy_text(text: string): Promise<void> {
  // navigator.clipboard needs a secure context; a page opened over plain http on a LAN address falls back to
  // the older selection-based copy.
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

export function flash_copied(button: HTMLElement): void {
  const old = button.innerHTML;
  button.innerHTML = icon("check");
  button.classList.add("done");
  setTimeout(() => {
    button.innerHTML = old;
    button.classList.remove("done");
  }, 1200);
}

// Adds a header with the language and a copy button to each rendered code block.
function decorate_code(root: HTMLElement): void {
  for (const code of Array.from(root.querySelectorAll<HTMLElement>("pre > code"))) {
    const pre = code.parentElement as HTMLElement;
    if (pre.parentElement?.classList.contains("code")) continue;
    const wrap = el("div", "code");
    const head = el("div", "code-head");
    const lang = el("span", "code-lang");
    lang.textContent = code.dataset.lang ?? "text";
    const btn = el("button", "code-copy", `${icon("copy")}<span>Copy</span>`);
    btn.type = "button";
    btn.setAttribute("aria-label", "Copy code");
    head.append(lang, btn);
    pre.replaceWith(wrap);
    wrap.append(head, pre);
  }
}

function render_into(target: HTMLElement, text: string, cache: { text: string }): void {
  if (cache.text === text) return;
  cache.text = text;
  target.innerHTML = render_markdown(text);
  decorate_code(target);
  void typeset_math(target);
}

export interface MessageActions {
  copy(index: number, button: HTMLElement): void;
  regenerate(index: number): void;
}

// One message on screen. update() is cheap to call on every streamed delta: it re-renders only what changed.
export class MessageView {
  readonly root: HTMLElement;
  private readonly think: HTMLDetailsElement | null = null;
  private readonly think_label: HTMLElement | null = null;
  private readonly think_body: HTMLElement | null = null;
  private readonly answer: HTMLElement;
  private readonly error: HTMLElement | null = null;
  private readonly actions: HTMLElement | null = null;
  private readonly stats: HTMLElement | null = null;
  private readonly answer_cache = { text: "\u0000" };
  private readonly think_cache = { text: "\u0000" };

  constructor(private readonly message: Message, readonly index: number, deep_think: boolean, actions: MessageActions) {
    if (message.role === "user") {
      this.root = el("div", "msg user");
      this.answer = el("div", "bubble");
      this.root.append(this.answer);
      return;
    }
    this.root = el("div", "msg assistant");
    const avatar = el("div", "avatar", icon("whale"));
    const body = el("div", "body");
    this.think = el("details", "think");
    this.think.open = deep_think;
    const summary = el("summary");
    this.think_label = el("span", "think-label");
    summary.append(el("span", "think-icon", icon("atom")), this.think_label, el("span", "chev", icon("chevron")));
    this.think_body = el("div", "think-body markdown");
    this.think.append(summary, this.think_body);
    this.answer = el("div", "answer markdown");
    this.error = el("div", "error");
    this.actions = el("div", "actions");
    const copy = el("button", "icon-btn copy", icon("copy"));
    copy.type = "button";
    copy.title = "Copy";
    copy.setAttribute("aria-label", "Copy answer");
    copy.addEventListener("click", () => actions.copy(this.index, copy));
    const regen = el("button", "icon-btn regenerate", icon("redo"));
    regen.type = "button";
    regen.title = "Regenerate";
    regen.setAttribute("aria-label", "Regenerate");
    regen.addEventListener("click", () => actions.regenerate(this.index));
    this.stats = el("span", "stats");
    this.actions.append(copy, regen, this.stats);
    body.append(this.think, this.answer, this.error, this.actions);
    this.root.append(avatar, body);
  }

  update(streaming: boolean, last: boolean, now: number, think_started: number | null): void {
    const m = this.message;
    if (m.role === "user") {
      if (this.answer.textContent !== m.content) this.answer.textContent = m.content;
      return;
    }
    const reasoning = m.reasoning ?? "";
    const thinking_now = streaming && m.content === "" && !m.error;
    const think = this.think as HTMLDetailsElement;
    think.hidden = reasoning === "" && !thinking_now;
    think.classList.toggle("active", thinking_now);
    let label: string;
    if (thinking_now) {
      label = think_started === null ? "Thinking…" : `Thinking… ${Math.floor((now - think_started) / 1000)}s`;
    } else if (m.think_ms !== undefined) {
      label = seconds_label(m.think_ms);
    } else {
      label = "Thought";
    }
    if ((this.think_label as HTMLElement).textContent !== label) (this.think_label as HTMLElement).textContent = label;
    render_into(this.think_body as HTMLElement, reasoning, this.think_cache);
    render_into(this.answer, m.content, this.answer_cache);
    this.answer.classList.toggle("streaming", streaming && !thinking_now); // the thought block shows progress
    const error = this.error as HTMLElement;
    const error_text = m.error ?? (m.stopped ? "Stopped." : "");
    if (error.textContent !== error_text) error.textContent = error_text;
    error.classList.toggle("soft", !m.error);
    const actions = this.actions as HTMLElement;
    actions.hidden = streaming;
    (actions.querySelector(".regenerate") as HTMLElement).hidden = !last;
    const stats = stats_text(m);
    if ((this.stats as HTMLElement).textContent !== stats) (this.stats as HTMLElement).textContent = stats;
  }
}

function day_group(t: number, now: Date): string {
  const start_of_today = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const day = 86400000;
  if (t >= start_of_today) return "Today";
  if (t >= start_of_today - day) return "Yesterday";
  if (t >= start_of_today - 7 * day) return "Previous 7 days";
  if (t >= start_of_today - 30 * day) return "Previous 30 days";
  return "Older";
}

export function render_chat_list(nav: HTMLElement, list: Conversation[], current: string | null,
  on_open: (id: string) => void, on_delete: (id: string) => void): void {
  nav.replaceChildren();
  let group = "";
  const now = new Date();
  for (const c of list) {
    if (c.messages.length === 0) continue;
    const g = day_group(c.updated, now);
    if (g !== group) {
      group = g;
      const h = el("div", "group");
      h.textContent = g;
      nav.append(h);
    }
    const item = el("div", `chat-item${c.id === current ? " current" : ""}`);
    item.dataset.id = c.id;
    const open = el("button", "chat-open");
    open.type = "button";
    open.textContent = c.title;
    open.title = c.title;
    open.addEventListener("click", () => on_open(c.id));
    const del = el("button", "icon-btn chat-delete", icon("trash"));
    del.type = "button";
    del.setAttribute("aria-label", "Delete conversation");
    del.addEventListener("click", (e) => {
      e.stopPropagation();
      on_delete(c.id);
    });
    item.append(open, del);
    nav.append(item);
  }
}
