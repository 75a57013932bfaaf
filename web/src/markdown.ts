// Turns model output into safe HTML: Markdown (marked) with highlighted code and math placeholders, then
// DOMPurify. Model output is untrusted, so raw HTML in it is shown as text and the result is sanitized again.
import { Marked, type Tokens, type TokenizerAndRendererExtension } from "marked";
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";

// A few languages keep the bundle small; others are shown as plain code.
const kLanguages = { bash, c, cpp, javascript, json, python, rust, typescript, xml };
for (const [name, fn] of Object.entries(kLanguages)) hljs.registerLanguage(name, fn);
hljs.registerAliases(["sh", "shell", "zsh"], { languageName: "bash" });
hljs.registerAliases(["js", "mjs"], { languageName: "javascript" });
hljs.registerAliases(["ts"], { languageName: "typescript" });
hljs.registerAliases(["py"], { languageName: "python" });
hljs.registerAliases(["c++", "cc", "h", "hpp"], { languageName: "cpp" });
hljs.registerAliases(["html", "svg"], { languageName: "xml" });
hljs.registerAliases(["rs"], { languageName: "rust" });

export function escape_html(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function math_html(tex: string, display: boolean): string {
  // The TeX stays as text until math.ts typesets it with KaTeX (loaded only when an answer has math).
  return `<span class="math" data-display="${display ? 1 : 0}">${escape_html(tex)}</span>`;
}

interface MathToken extends Tokens.Generic {
  tex: string;
  display: boolean;
}

// Delimiters models use: $$..$$ and \[..\] for display math, $..$ and \(..\) inline. "$5 and $10" stays
// text: inline $ needs a non-space after the opening and before the closing sign, and no digit after it.
const kBlockMath = /^(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\])[ \t]*(?:\n|$)/;
const kInlineMath = [
  { re: /^\$\$([\s\S]+?)\$\$/, display: true },
  { re: /^\\\[([\s\S]+?)\\\]/, display: true },
  { re: /^\\\(([\s\S]+?)\\\)/, display: false },
  { re: /^\$(?![\s$])((?:\\.|[^\\\n$])+?)(?<!\s)\$(?!\d)/, display: false },
];

const kMathExtensions: TokenizerAndRendererExtension[] = [
  {
    name: "math_block",
    level: "block",
    start: (src: string) => src.match(/^ {0,3}(?:\$\$|\\\[)/m)?.index,
    tokenizer(src: string) {
      const m = kBlockMath.exec(src.replace(/^ {0,3}/, ""));
      if (!m) return undefined;
      const indent = src.length - src.replace(/^ {0,3}/, "").length;
      return { type: "math_block", raw: src.slice(0, indent + m[0].length), tex: (m[1] ?? m[2]).trim(), display: true };
    },
    renderer: (token) => `<p class="math-display">${math_html((token as MathToken).tex, true)}</p>\n`,
  },
  {
    name: "math_inline",
    level: "inline",
    start: (src: string) => src.match(/\$|\\[([]/)?.index,
    tokenizer(src: string) {
      for (const { re, display } of kInlineMath) {
        const m = re.exec(src);
        if (m) return { type: "math_inline", raw: m[0], tex: m[1].trim(), display };
      }
      return undefined;
    },
    renderer: (token) => math_html((token as MathToken).tex, (token as MathToken).display),
  },
];

const marked = new Marked({
  gfm: true,
  breaks: false,
  extensions: kMathExtensions,
  renderer: {
    // Raw HTML from the model is displayed, never interpreted.
    html: ({ text }) => escape_html(text),
    image: ({ href, text }) => `<a href="${escape_html(href)}">${escape_html(text || href)}</a>`,
    code({ text, lang }) {
      const name = (lang ?? "").trim().split(/\s+/)[0].toLowerCase();
      const known = name !== "" && hljs.getLanguage(name) !== undefined;
      const body = known ? hljs.highlight(text, { language: name, ignoreIllegals: true }).value : escape_html(text);
      return `<pre><code class="hljs" data-lang="${escape_html(name || "text")}">${body}</code></pre>\n`;
    },
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

const kPurifyMarkdown = {
  FORBID_TAGS: ["style", "img", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "svg", "math"],
  FORBID_ATTR: ["style", "id", "name"],
};

export function render_markdown(text: string): string {
  const html = marked.parse(text, { async: false }) as string;
  return DOMPurify.sanitize(html, kPurifyMarkdown);
}

// KaTeX's own output (spans with inline styles, MathML, SVG for wide glyphs) passes through DOMPurify too.
export function sanitize_math(html: string): string {
  return DOMPurify.sanitize(html, {
    ADD_TAGS: ["annotation"], // the TeX source inside KaTeX's MathML (text only; annotation-xml stays out)
    FORBID_TAGS: ["style", "img", "a", "form", "input", "iframe", "annotation-xml"],
  });
}
