#!/usr/bin/env bash
# `whale train-tokenizer` end to end: writes tokenizer.json + tokenizer_config.json that `whale tokenize`, the
# GGUF export and `whale template` accept, the same bytes for the same flags, and clear errors for bad flags.
set -u
: "${WHALE:?set WHALE to the whale binary}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error NAME STATUS TEXT -- COMMAND...: the command exits with STATUS and stderr contains TEXT.
expect_error() {
  local name="$1" status="$2" text="$3"
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -ne "$status" ]; then fail "$name: exit $got, expected $status ($(cat "$tmp/err"))"; return; fi
  grep -qF -- "$text" "$tmp/err" || fail "$name: stderr lacks '$text': $(cat "$tmp/err")"
}

"$WHALE" train-tokenizer --out "$tmp/a" --vocab 400 --problems 500 >"$tmp/log" 2>&1 || fail "train-tokenizer: $(cat "$tmp/log")"
[ -s "$tmp/a/tokenizer.json" ] && [ -s "$tmp/a/tokenizer_config.json" ] || fail "files written"
# The task corpus runs out of repeated pairs below 400 tokens: the vocabulary is what it needs, at most --vocab.
n="$(sed -n 's/.*: \([0-9]*\) tokens$/\1/p' "$tmp/log")"
[ -n "$n" ] && [ "$n" -le 400 ] && [ "$n" -gt 300 ] || fail "reports the vocabulary size: $(cat "$tmp/log")"
"$WHALE" train-tokenizer --out "$tmp/small" --vocab 280 --problems 100 2>&1 | grep -q ": 280 tokens" || fail "--vocab 280"
"$WHALE" train-tokenizer --out "$tmp/b" --vocab 400 --problems 500 >/dev/null 2>&1
cmp -s "$tmp/a/tokenizer.json" "$tmp/b/tokenizer.json" || fail "tokenizer.json differs between identical runs"
cmp -s "$tmp/a/tokenizer_config.json" "$tmp/b/tokenizer_config.json" || fail "config differs between identical runs"
"$WHALE" train-tokenizer --out "$tmp/c" --task addition --vocab 300 --problems 200 >/dev/null 2>&1 || fail "--task addition"

# Digits are single tokens; text round-trips; the GGUF export reads the same ids.
ids="$(printf '4821' | "$WHALE" tokenize -m "$tmp/a")"
[ "$(echo "$ids" | tr -cd ',' | wc -c)" -eq 3 ] || fail "4821 is not 4 tokens: $ids"
text=$'<｜User｜>What is 4821 + 3907?<｜Assistant｜><think>\n1+7+0=8\n</think>\n\n8728'
[ "$(printf '%s' "$text" | "$WHALE" tokenize -m "$tmp/a" | "$WHALE" detokenize -m "$tmp/a")" = "$text" ] || fail "round trip"
"$WHALE" tokenize -m "$tmp/a" --export-gguf "$tmp/vocab.gguf" </dev/null || fail "--export-gguf"
[ "$(printf '%s' "$text" | "$WHALE" tokenize -m "$tmp/vocab.gguf")" = "$(printf '%s' "$text" | "$WHALE" tokenize -m "$tmp/a")" ] \
  || fail "GGUF ids differ"

# The config carries the R1 chat template: one user message renders the DeepSeek-R1 prompt.
echo '[{"role":"user","content":"Hi"}]' >"$tmp/m.json"
out="$("$WHALE" template -m "$tmp/a/tokenizer_config.json" --messages "$tmp/m.json")"
[ "$out" = $'<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>' ] || fail "template render: $out"

expect_error "unknown task" 1 'unknown task "division"' -- "$WHALE" train-tokenizer --out "$tmp/x" --task addition,division
expect_error "vocab too small" 2 "--vocab" -- "$WHALE" train-tokenizer --out "$tmp/x" --vocab 100
expect_error "missing --out" 2 "--out" -- "$WHALE" train-tokenizer
expect_error "missing template" 1 "nope.jinja" -- "$WHALE" train-tokenizer --out "$tmp/x" --chat-template "$tmp/nope.jinja"
touch "$tmp/file"
expect_error "out is a file" 1 "cannot create" -- "$WHALE" train-tokenizer --out "$tmp/file"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "ok"
