// Build settings for whale's chat page: one small entry bundle, with KaTeX split out and loaded only the first
// time an answer has math. cmake passes --outDir so the built page lands in the build tree.
import { defineConfig, type Plugin } from "vite";

// KaTeX's stylesheet lists each font three times (woff2, woff, ttf). Every browser that runs this page takes
// woff2, so the other two are dropped before bundling: the binary would otherwise carry ~1 MB of unused fonts.
function katex_woff2_only(): Plugin {
  return {
    name: "whale-katex-woff2-only",
    enforce: "pre",
    transform(code, id) {
      if (!/katex[\\/]dist[\\/]katex(\.min)?\.css$/.test(id)) return null;
      return code.replace(/,\s*url\([^)]*\.woff\)\s*format\(["']woff["']\)/g, "")
        .replace(/,\s*url\([^)]*\.ttf\)\s*format\(["']truetype["']\)/g, "");
    },
  };
}

export default defineConfig({
  base: "/",
  plugins: [katex_woff2_only()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 400,
  },
});
