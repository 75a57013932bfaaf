// Type declarations for modules that ship without them: highlight.js language files (plain ES modules).
declare module "highlight.js/lib/languages/*" {
  import type { LanguageFn } from "highlight.js";
  const language: LanguageFn;
  export default language;
}
