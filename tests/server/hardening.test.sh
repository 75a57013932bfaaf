#!/usr/bin/env bash
# End-to-end: what `whale serve` does against hostile or careless clients and operators. Security headers on the
# page and the API; no path outside the embedded page files, however the path is spelled; --key-concurrency
# bounds the requests one API key has in flight; a model whose weights and KV caches exceed the memory is
# refused at load with the figures, and out-of-range flags are refused before anything loads.
source "$WHALE_SOURCE_DIR/tests/server/lib/serve.sh"

# header FILE NAME: a header's value from a `curl -D` dump (case-insensitive name, CR stripped).
header() { awk -v name="$2" 'BEGIN { IGNORECASE = 1 } index(tolower($0), tolower(name) ":") == 1 {
  sub(/^[^:]*: */, ""); sub(/\r$/, ""); print; exit }' "$1"; }

printf 'alice sk-alice-0123456789\nbob sk-bob-0123456789\n' >"$WORK/keys"
start_server hardening --toy --toy-step-ms 20 --parallel 4 --api-key-file "$WORK/keys" --key-concurrency 1
ALICE=(-H 'Authorization: Bearer sk-alice-0123456789')
BOB=(-H 'Authorization: Bearer sk-bob-0123456789')

# Security headers.
curl -s -D "$WORK/page.h" -o "$WORK/page.html" "$BASE/"
csp=$(header "$WORK/page.h" Content-Security-Policy)
check "page: scripts only from the server" "$(grep -c "script-src 'self';" <<<"$csp")" 1
check "page: no plugins, no base rewriting" "$(grep -c "default-src 'none'.*base-uri 'none'" <<<"$csp")" 1
check "page: cannot be framed (CSP)" "$(grep -c "frame-ancestors 'none'" <<<"$csp")" 1
check "page: cannot be framed (X-Frame-Options)" "$(header "$WORK/page.h" X-Frame-Options)" DENY
check "page: no sniffing" "$(header "$WORK/page.h" X-Content-Type-Options)" nosniff
check "page: no referrer" "$(header "$WORK/page.h" Referrer-Policy)" no-referrer
curl -s -D "$WORK/api.h" -o /dev/null "${ALICE[@]}" "$BASE/v1/models"
check "API: no sniffing" "$(header "$WORK/api.h" X-Content-Type-Options)" nosniff

# Path traversal, spelled every way a client can.
for path in "/../../../../etc/passwd" "/%2e%2e/%2e%2e/%2e%2e/etc/passwd" "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd" \
  "//etc/passwd" "/assets/../../../../etc/passwd" "/.%2e/.%2e/etc/passwd" "/..%5c..%5c..%5cetc%5cpasswd" \
  "/index.html/../../../etc/passwd" "/%00/etc/passwd"; do
  code=$(curl -s --path-as-is -o "$WORK/traversal.out" -w '%{http_code}' "$BASE$path")
  check "GET $path is refused" "$([[ "$code" == 4?? ]] && echo refused || echo "$code")" refused
  check "GET $path leaks nothing" "$(grep -c 'root:' "$WORK/traversal.out")" 0
done

# --key-concurrency 1: alice's second request while her first streams is a 429; bob is not affected; once
# her first ends she may send again.
long='{"prompt":"x","temperature":1,"seed":1,"max_tokens":40,"stream":true}'
curl -s -N --max-time 30 "${ALICE[@]}" -H 'Content-Type: application/json' -d "$long" "$BASE/v1/completions" \
  >"$WORK/alice1.txt" &
first=$!
for _ in $(seq 200); do [ "$(grep -c '^data: {' "$WORK/alice1.txt" 2>/dev/null)" -ge 2 ] && break; sleep 0.02; done
short='{"prompt":"x","max_tokens":2}'
check "second request of a key over its limit: 429" \
  "$(post /v1/completions "$short" "$WORK/alice2.json" "${ALICE[@]}")" 429
check "the 429 names the limit" "$(js "$WORK/alice2.json" d.error.code)" key_concurrency_limit
check "another key is not limited by it" "$(post /v1/completions "$short" "$WORK/bob.json" "${BOB[@]}")" 200
wait "$first"
check "the key may send again once its request ended" \
  "$(post /v1/completions "$short" "$WORK/alice3.json" "${ALICE[@]}")" 200
check "a refused non-streamed request frees its place too" \
  "$(post /v1/completions '{"prompt":"x","max_tokens":0}' "$WORK/bad.json" "${ALICE[@]}")" 422
check "... and the key still has its place" "$(post /v1/completions "$short" "$WORK/alice4.json" "${ALICE[@]}")" 200

# A model that does not fit: nano-r1 with 256 sequences of 16 M tokens needs terabytes of KV cache.
model="$WHALE_SOURCE_DIR/models/nano-r1.gguf"
set +e
"$WHALE" serve -m "$model" --port 0 --parallel 256 --ctx 16777216 >"$WORK/big.out" 2>&1
status=$?
set -e
check "an oversized configuration exits non-zero" "$status" 1
check "... saying what it needs and what there is" \
  "$(grep -cE 'needs about [0-9.]+ GiB of memory \(weights [0-9.]+ GiB \+ KV cache [0-9.]+ GiB for 256 sequences x 16777216 tokens\), but only [0-9.]+ GiB is available' "$WORK/big.out")" 1
check "... and how to get past it" "$(grep -c -- '--no-memory-check' "$WORK/big.out")" 1

for flags in "--ctx 99999999" "--drain-timeout -1" "--key-concurrency 2" "--key-concurrency -1 --api-key-file $WORK/keys"; do
  set +e
  # shellcheck disable=SC2086
  "$WHALE" serve --toy --port 0 $flags >"$WORK/flag.out" 2>&1
  status=$?
  set -e
  check "serve $flags is refused" "$status" 1
done

finish
