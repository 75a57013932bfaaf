#!/usr/bin/env bash
# `whale eval` end to end on a tiny random model with the trained tokenizer: the JSON report, determinism for a
# seed (also across thread counts), and clear errors for bad input.
set -u
: "${WHALE:?set WHALE to the whale binary}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_error() {
  local name="$1" status="$2" text="$3"
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -ne "$status" ]; then fail "$name: exit $got, expected $status ($(cat "$tmp/err"))"; return; fi
  grep -qF -- "$text" "$tmp/err" || fail "$name: stderr lacks '$text': $(cat "$tmp/err")"
}

"$WHALE" train-tokenizer --out "$tmp/tok" --vocab 400 --problems 300 >/dev/null 2>&1 || fail "train-tokenizer"
"$WHALE" mkmodel --arch qwen2 --preset tiny --layers 1 --tokenizer "$tmp/tok" --seed 3 --out "$tmp/m.gguf" >/dev/null 2>&1 \
  || fail "mkmodel"

flags=(-m "$tmp/m.gguf" --task addition --n 3 --samples 2 --seed 5 --max-tokens 12 --json)
a="$("$WHALE" eval "${flags[@]}" --threads 1 2>"$tmp/err")" || fail "eval: $(cat "$tmp/err")"
b="$("$WHALE" eval "${flags[@]}" --threads 1 2>/dev/null)"
c="$("$WHALE" eval "${flags[@]}" --threads 2 2>/dev/null)"
[ -n "$a" ] && [ "$a" = "$b" ] || fail "not deterministic: $a vs $b"
[ "$a" = "$c" ] || fail "depends on the thread count: $a vs $c"
echo "$a" | grep -q '"task":"addition","n":3,"samples":2,"seed":5,"greedy_accuracy":' || fail "json fields: $a"
# A random model never stops early: its greedy answers are all max-tokens long.
echo "$a" | grep -q '"mean_reasoning_tokens":12.0' || fail "reasoning length: $a"
"$WHALE" eval -m "$tmp/m.gguf" --task linear --n 2 --max-tokens 4 >"$tmp/out" 2>&1 || fail "text output"
grep -q '^linear: n=2 greedy accuracy' "$tmp/out" || fail "text report: $(cat "$tmp/out")"

expect_error "unknown task" 1 'unknown task "division"' -- "$WHALE" eval -m "$tmp/m.gguf" --task division
expect_error "missing model" 1 "$tmp/none.gguf" -- "$WHALE" eval -m "$tmp/none.gguf" --task addition
expect_error "bad n" 2 "--n" -- "$WHALE" eval -m "$tmp/m.gguf" --task addition --n 0
expect_error "bad samples" 2 "--samples" -- "$WHALE" eval -m "$tmp/m.gguf" --task addition --samples -1
expect_error "no task" 2 "--task" -- "$WHALE" eval -m "$tmp/m.gguf"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "ok"
