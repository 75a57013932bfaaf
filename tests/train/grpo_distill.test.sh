#!/usr/bin/env bash
# `whale grpo` and `whale distill` end to end at toy size: a few GRPO steps from a briefly trained nano-r1
# write a GGUF the engine loads, the curves and a checkpoint, and a stopped run resumes to the same curves;
# distillation trains the dense student on traces and writes its GGUF; bad input fails with a message.
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

"$WHALE" train-tokenizer --out "$tmp/tok" --problems 300 >/dev/null 2>&1 || fail "train-tokenizer"
"$WHALE" train --tokenizer "$tmp/tok" --task addition --steps 4 --batch 4 --threads 2 --out "$tmp/cold.gguf" \
  >"$tmp/train.log" 2>&1 || fail "cold start: $(tail -3 "$tmp/train.log")"

# GRPO: 3 steps with a held-out evaluation at the end.
g=(-m "$tmp/cold.gguf" --tokenizer "$tmp/tok" --task addition --steps 3 --prompts 2 --group 3 --max-tokens 24
   --threads 2 --seed 4 --eval-every 3 --eval-n 2)
"$WHALE" grpo "${g[@]}" --out "$tmp/a.gguf" >"$tmp/a.log" 2>&1 || fail "grpo: $(tail -3 "$tmp/a.log")"
grep -q '^step 3/3 reward .* held-out' "$tmp/a.log" || fail "grpo log: $(cat "$tmp/a.log")"
[ -s "$tmp/a.gguf" ] && [ -s "$tmp/a.gguf.grpo.ckpt" ] || fail "grpo outputs"
[ ! -e "$tmp/a.gguf.policy.gguf" ] || fail "the sampling export is left behind"
head -1 "$tmp/a-grpo.csv" | grep -q '^step,reward,accuracy,format,length,kl,eval_accuracy$' || fail "csv header"
[ "$(wc -l <"$tmp/a-grpo.csv")" -eq 4 ] || fail "csv rows: $(cat "$tmp/a-grpo.csv")"
sed -n 2p "$tmp/a-grpo.csv" | grep -q '^1,.*,0,$' || fail "step 1 has KL 0 to the reference: $(sed -n 2p "$tmp/a-grpo.csv")"
grep -q '<svg' "$tmp/a-grpo-reward.svg" || fail "reward svg"
"$WHALE" eval -m "$tmp/a.gguf" --task addition --n 1 --max-tokens 4 >/dev/null 2>&1 || fail "engine loads the GRPO model"

# Without --tokenizer the tokenizer is rebuilt from the model: the same run, the same curve.
"$WHALE" grpo "${g[@]:0:2}" "${g[@]:4}" --out "$tmp/c.gguf" >"$tmp/c.log" 2>&1 || fail "grpo without --tokenizer: $(tail -3 "$tmp/c.log")"
cmp -s "$tmp/a-grpo.csv" "$tmp/c-grpo.csv" || fail "rebuilt tokenizer changes the run: $(diff "$tmp/a-grpo.csv" "$tmp/c-grpo.csv")"

# Stop after 2 steps, resume: the same curve as the uninterrupted run.
"$WHALE" grpo "${g[@]}" --out "$tmp/b.gguf" --stop-after 2 >"$tmp/b1.log" 2>&1 || fail "stopped grpo"
grep -q "stopped early" "$tmp/b1.log" || fail "stop message: $(tail -1 "$tmp/b1.log")"
"$WHALE" grpo "${g[@]}" --out "$tmp/b.gguf" --resume >"$tmp/b2.log" 2>&1 || fail "resumed grpo: $(tail -3 "$tmp/b2.log")"
cmp -s "$tmp/a-grpo.csv" "$tmp/b-grpo.csv" || fail "resumed curve differs: $(diff "$tmp/a-grpo.csv" "$tmp/b-grpo.csv")"

# Distillation from traces (an untrained teacher answers nothing right, which must fail clearly).
expect_error "teacher without correct answers" 1 "answered none" -- \
  "$WHALE" distill --teacher "$tmp/cold.gguf" --tokenizer "$tmp/tok" --task addition --problems 2 --max-tokens 8 \
  --steps 1 --threads 2 --out "$tmp/s.gguf"
cat >"$tmp/traces.jsonl" <<'TRACES'
{"task":"addition","question":"What is 12 + 34?","reasoning":"12+34:2+4+0=6 r6\n1+3:1+3+0=4 r46","answer":"46"}
{"task":"addition","question":"5+7","reasoning":"5+7:5+7+0=12 r12","answer":"12"}
TRACES
"$WHALE" distill --from-traces "$tmp/traces.jsonl" --tokenizer "$tmp/tok" --steps 3 --batch 2 --threads 2 --log-every 1 \
  --out "$tmp/s.gguf" --traces "$tmp/kept.jsonl" >"$tmp/s.log" 2>&1 || fail "distill: $(tail -3 "$tmp/s.log")"
grep -q "nano-r1-distill (qwen2)" "$tmp/s.log" || fail "student preset: $(cat "$tmp/s.log")"
cmp -s "$tmp/traces.jsonl" "$tmp/kept.jsonl" || fail "--traces does not write the traces back"
[ -s "$tmp/s.gguf" ] && [ -s "$tmp/s-distill.csv" ] || fail "distill outputs"
"$WHALE" eval -m "$tmp/s.gguf" --task addition --n 1 --max-tokens 4 >/dev/null 2>&1 || fail "engine loads the student"

expect_error "grpo unknown task" 1 'unknown task "nope"' -- "$WHALE" grpo -m "$tmp/cold.gguf" --tokenizer "$tmp/tok" --task nope --out "$tmp/x.gguf"
expect_error "grpo missing model" 1 "$tmp/none.gguf" -- "$WHALE" grpo -m "$tmp/none.gguf" --tokenizer "$tmp/tok" --out "$tmp/x.gguf"
expect_error "grpo missing tokenizer" 1 "no tokenizer.json" -- "$WHALE" grpo -m "$tmp/cold.gguf" --tokenizer "$tmp/none" --out "$tmp/x.gguf"
expect_error "grpo group of one" 2 "--group" -- "$WHALE" grpo -m "$tmp/cold.gguf" --tokenizer "$tmp/tok" --group 1 --out "$tmp/x.gguf"
expect_error "grpo resume without checkpoint" 1 "$tmp/x.gguf.grpo.ckpt" -- "$WHALE" grpo -m "$tmp/cold.gguf" --tokenizer "$tmp/tok" --resume --out "$tmp/x.gguf"
echo '{"task":"division","question":"q","reasoning":"r","answer":"1"}' >"$tmp/bad.jsonl"
expect_error "distill bad trace" 1 "bad.jsonl:1: unknown task" -- "$WHALE" distill --from-traces "$tmp/bad.jsonl" --tokenizer "$tmp/tok" --out "$tmp/x.gguf"
expect_error "distill no teacher" 1 "--teacher" -- "$WHALE" distill --tokenizer "$tmp/tok" --out "$tmp/x.gguf"
expect_error "distill traces without tokenizer" 1 "--tokenizer" -- "$WHALE" distill --from-traces "$tmp/traces.jsonl" --out "$tmp/x.gguf"
expect_error "distill bad preset" 2 "--preset" -- "$WHALE" distill --teacher "$tmp/cold.gguf" --tokenizer "$tmp/tok" --preset huge --out "$tmp/x.gguf"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "ok"
