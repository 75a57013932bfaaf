// Typesets the math placeholders left by markdown.ts. KaTeX (and its stylesheet and fonts) is fetched the
// first time an answer contains math, so most pages never load it.
import { sanitize_math } from "./markdown";

type Katex = typeof import("katex").default;
let katex_promise: Promise<Katex> | null = null;
// A streaming answer is re-rendered many times; each formula is typeset once.
const rendered = new Map<string, string>();

function load_katex(): Promise<Katex> {
  katex_promise ??= Promise.all([import("katex"), import("katex/dist/katex.min.css")]).then(([m]) => m.default);
  return katex_promise;
}

export async function typeset_math(root: HTMLElement): Promise<void> {
  const nodes = Array.from(root.querySelectorAll<HTMLElement>("span.math:not([data-done])"));
  if (nodes.length === 0) return;
  const katex = await load_katex();
  for (const node of nodes) {
    if (!node.isConnected || node.dataset.done) continue;
    const tex = node.textContent ?? "";
    const display = node.dataset.display === "1";
    const key = `${display ? "D" : "I"}${tex}`;
    let html = rendered.get(key);
    if (html === undefined) {
      html = sanitize_math(katex.renderToString(tex, {
      displayMode: display,
      throwOnError: false, // a malformed formula shows in red instead of breaking the answer
      trust: false, // no \href, \url, \htmlClass ... from model output
      strict: "ignore",
      maxSize: 20,
      maxExpand: 500,
      output: "htmlAndMathml",
      }));
      if (rendered.size > 500) rendered.clear();
      rendered.set(key, html);
    }
    node.innerHTML = html;
    node.dataset.done = "1";
    node.title = tex;
  }
}
