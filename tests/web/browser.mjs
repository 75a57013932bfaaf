// Shared by the web chat tests: starts Debian's chromium through playwright-core (from the repository's
// node_modules) and gives small assertion helpers. Missing chromium is a failure: `make test` installs it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

export const source_dir = process.env.WHALE_SOURCE_DIR ?? process.cwd();
export const build_dir = process.env.WHALE_BUILD_DIR ?? join(source_dir, "build");
export const kChromium = "/usr/bin/chromium";

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

export function check(cond, message) {
  if (!cond) throw new Error(message);
  console.log(`ok - ${message}`);
}

export async function launch() {
  if (!existsSync(kChromium)) fail(`${kChromium} not found (Debian package chromium; make deps installs it)`);
  const require = createRequire(join(source_dir, "package.json"));
  const { chromium } = require("playwright-core");
  return chromium.launch({
    executablePath: kChromium,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
  });
}

// Opens a page that records uncaught errors and every request that leaves the test server.
export async function open_page(browser, base, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await context.newPage();
  const errors = [];
  const foreign = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Chromium reports what a Content-Security-Policy blocked as console errors.
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) errors.push(`CSP violation: ${m.text().slice(0, 160)}`);
  });
  page.on("dialog", (d) => {
    errors.push(`unexpected dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  return { context, page, errors, foreign };
}
