#!/usr/bin/env bash
# End-to-end: a short soak of `whale serve` with bench/soak.mjs — 16 clients for 25 s on nano-r1 (the toy model
# when the file is missing) mixing streamed and whole answers, completions, clients that leave mid-answer,
# oversized and malformed bodies, unknown paths, /health and /metrics. --queue 4 keeps the server over capacity
# so that refusals are judged too, and a 4 MiB context cache fills during warm-up so that memory must stay flat
# while it churns. Fails when the soak's verdict fails, or when the run did not exercise what it judges.
set -euo pipefail
: "${WHALE:?WHALE must point at the whale binary}"
: "${WHALE_SOURCE_DIR:?WHALE_SOURCE_DIR must point at the source tree}"

model="$WHALE_SOURCE_DIR/models/nano-r1.gguf"
target=(--toy)
[ -f "$model" ] && target=(-m "$model")
report=$(mktemp)
trap 'rm -f "$report"' EXIT

# AddressSanitizer's quarantine holds freed memory (up to 256 MiB), so under the sanitizers RSS is not judged.
rss_tolerance=0.05
[ "${WHALE_SANITIZED:-0}" == "1" ] && rss_tolerance=Infinity
verdict=0
node "$WHALE_SOURCE_DIR/bench/soak.mjs" "${target[@]}" --clients 16 --duration 25 --parallel 4 --queue 4 \
  --threads 2 --cache-mem 4 --rss-tolerance "$rss_tolerance" --json "$report" || verdict=$?

# A verdict over a run that never reached capacity, never lost a client or never refused a body proves little.
node - "$report" <<'EOF'
const report = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const disconnects = Object.values(report.server_requests).reduce((n, statuses) => n + (statuses["499"] ?? 0), 0);
const exercised = {
  "refusals over capacity": report.refusals.over_capacity,
  "clients that left": report.statuses.left ?? 0,
  "499s in /metrics": disconnects,
  "413s": report.statuses["413"] ?? 0,
  "streamed answers timed": report.ttft_ms.n,
  "memory samples": report.memory.samples.length,
};
const missing = Object.entries(exercised).filter(([, n]) => !(n > 0)).map(([what]) => what);
console.log(`exercised: ${Object.entries(exercised).map(([what, n]) => `${what} ${n}`).join(", ")}`);
if (missing.length > 0) {
  console.log(`FAIL the soak did not exercise: ${missing.join(", ")}`);
  process.exit(1);
}
EOF
exit "$verdict"
