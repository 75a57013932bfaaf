// Conversations and settings kept in the browser's localStorage; nothing about them is stored on the server.

export interface TurnStats {
  completion_tokens: number;
  tokens_per_second: number | null;
  total_tokens: number | null; // prompt + completion: how much of the context this turn used
  reasoning_tokens: number | null;
  cached_tokens: number | null;
  model: string;
}

export interface Message {
  role: "user" | "assistant";
  content: string;
  reasoning?: string;
  think_ms?: number; // how long the chain of thought took, for "Thought for N seconds"
  stats?: TurnStats;
  error?: string;
  stopped?: boolean;
}

export interface Conversation {
  id: string;
  title: string;
  created: number;
  updated: number;
  messages: Message[];
}

export interface Settings {
  deep_think: boolean;
  api_key: string;
}

const kChatsKey = "whale.chats.v1";
const kSettingsKey = "whale.settings.v1";

function read_json(key: string): unknown {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? null : JSON.parse(raw);
  } catch {
    return null; // unreadable storage starts fresh rather than breaking the page
  }
}

function valid_message(m: unknown): m is Message {
  const x = m as Message;
  return typeof x === "object" && x !== null && (x.role === "user" || x.role === "assistant") &&
    typeof x.content === "string";
}

export function load_conversations(): Conversation[] {
  const data = read_json(kChatsKey);
  if (!Array.isArray(data)) return [];
  return data
    .filter((c): c is Conversation => typeof c === "object" && c !== null && typeof c.id === "string" &&
      Array.isArray(c.messages))
    .map((c) => ({
      id: c.id,
      title: typeof c.title === "string" ? c.title : "Untitled",
      created: Number(c.created) || Date.now(),
      updated: Number(c.updated) || Date.now(),
      messages: c.messages.filter(valid_message),
    }))
    .sort((a, b) => b.updated - a.updated);
}

export function save_conversations(list: Conversation[]): void {
  try {
    localStorage.setItem(kChatsKey, JSON.stringify(list.filter((c) => c.messages.length > 0)));
  } catch {
    // Storage full or disabled: the chat keeps working for this page's lifetime.
  }
}

export function load_settings(): Settings {
  const s = (read_json(kSettingsKey) ?? {}) as Partial<Settings>;
  return {
    deep_think: typeof s.deep_think === "boolean" ? s.deep_think : true,
    api_key: typeof s.api_key === "string" ? s.api_key : "",
  };
}

export function save_settings(s: Settings): void {
  try {
    localStorage.setItem(kSettingsKey, JSON.stringify(s));
  } catch {
    // as above
  }
}

export function new_id(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export function title_from(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 48 ? `${line.slice(0, 47)}…` : line || "New chat";
}
