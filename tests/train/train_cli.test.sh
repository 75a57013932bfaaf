#!/usr/bin/env bash
# `whale train` end to end: a few steps of the nano-r1 preset write a GGUF the engine loads, curves and a
# checkpoint; stopping and resuming gives the losses of an uninterrupted run; bad input fails with a message.
set -u
WHALE=${WHALE:-build/whale}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
check() { if ! eval "$2"; then echo "FAIL: $1"; failures=$((failures + 1)); fi; }
loss_line() { grep "^step $2/" "$1" | sed 's/ grad_norm.*//'; }

common=(--steps 6 --batch 2 --threads 2 --log-every 1 --warmup 2 --seed 3)

# An uninterrupted run.
"$WHALE" train "${common[@]}" --out "$dir/a.gguf" > "$dir/a.log" 2>&1
check "train exits 0" "[ $? -eq 0 ]"
check "model written" "[ -s '$dir/a.gguf' ]"
check "checkpoint written" "[ -s '$dir/a.gguf.ckpt' ]"
check "curves csv header" "head -1 '$dir/a-train.csv' | grep -q '^step,loss,mtp_loss,lr'"
check "curves csv has 6 rows" "[ \$(wc -l < '$dir/a-train.csv') -eq 7 ]"
check "loss svg" "grep -q '<svg' '$dir/a-train-loss.svg'"
check "logs 6 steps" "grep -q '^step 6/6 loss' '$dir/a.log'"
"$WHALE" info -m "$dir/a.gguf" > "$dir/info.txt" 2>&1
check "engine loads the model" "grep -q 'deepseek2' '$dir/info.txt'"
"$WHALE" run -m "$dir/a.gguf" --temp 0 -n 8 -t 1 -p "What is 2 + 3?" > "$dir/run.txt" 2>&1
check "engine runs the model" "[ $? -eq 0 ]"

# Stop after 4 steps, resume to 6: the same losses as the uninterrupted run.
"$WHALE" train "${common[@]}" --out "$dir/b.gguf" --stop-after 4 > "$dir/b1.log" 2>&1
check "stopped run exits 0" "[ $? -eq 0 ]"
check "stopped at 4" "grep -q 'stopped after 4 steps' '$dir/b1.log'"
"$WHALE" train "${common[@]}" --out "$dir/b.gguf" --resume > "$dir/b2.log" 2>&1
check "resumed run exits 0" "[ $? -eq 0 ]"
check "resumed at 4" "grep -q 'resumed from .* at step 4' '$dir/b2.log'"
check "step 5 loss as uninterrupted" "[ \"\$(loss_line '$dir/a.log' 5)\" = \"\$(loss_line '$dir/b2.log' 5)\" ]"
check "step 6 loss as uninterrupted" "[ \"\$(loss_line '$dir/a.log' 6)\" = \"\$(loss_line '$dir/b2.log' 6)\" ]"
check "same model bytes" "cmp -s '$dir/a.gguf' '$dir/b.gguf'"

# Q8_0 export: the matrices quantized, norms and the router in F32.
"$WHALE" train --steps 1 --batch 1 --threads 2 --out "$dir/q.gguf" --type q8_0 > /dev/null 2>&1
"$WHALE" info -m "$dir/q.gguf" > "$dir/qinfo.txt" 2>&1
check "q8_0 model loads" "grep -q 'q8_0 x55' '$dir/qinfo.txt' && grep -q 'f32 x26' '$dir/qinfo.txt'"
check "q8_0 nano-r1 under 8 MB" "[ \$(stat -c %s '$dir/q.gguf') -lt 8000000 ]"
"$WHALE" run -m "$dir/q.gguf" --temp 0 -n 8 -t 1 -p "What is 2 + 3?" > "$dir/qrun.txt" 2>&1
check "engine runs the q8_0 model" "[ $? -eq 0 ]"

# A tokenizer folder from `whale train-tokenizer`, the dense preset, and continuing from a trained model.
"$WHALE" train-tokenizer --task addition --vocab 400 --problems 200 --out "$dir/tok" > /dev/null 2>&1
check "tokenizer folder" "[ -s '$dir/tok/tokenizer.json' ]"
"$WHALE" train --tokenizer "$dir/tok" --preset nano-r1-distill --task addition --steps 2 --batch 2 \
  --out "$dir/d.gguf" > "$dir/d.log" 2>&1
check "distill preset with a tokenizer folder" "[ $? -eq 0 ] && grep -q 'qwen2' '$dir/d.log'"
"$WHALE" train --tokenizer "$dir/tok" --config "$dir/d.gguf" --task addition --steps 2 --batch 2 \
  --out "$dir/d2.gguf" > "$dir/d2.log" 2>&1
check "continue from a model" "[ $? -eq 0 ] && [ -s '$dir/d2.gguf' ]"

# Bad input: non-zero exit and a message naming the problem.
expect_fail() {  # NAME PATTERN ARGS...
  local name=$1 pattern=$2
  shift 2
  "$WHALE" train "$@" > "$dir/err.txt" 2>&1
  local rc=$?
  check "$name: non-zero exit" "[ $rc -ne 0 ]"
  check "$name: message" "grep -qi -- '$pattern' '$dir/err.txt'"
}
expect_fail "unknown preset" "nano-r2" --preset nano-r2 --out "$dir/x.gguf"
expect_fail "unknown task" "bogus" --task bogus --out "$dir/x.gguf"
expect_fail "bad steps" "steps" --steps 0 --out "$dir/x.gguf"
expect_fail "missing out" "out" --steps 1
expect_fail "missing checkpoint" "cannot\|missing\|no such\|not found" --steps 2 --resume \
  --checkpoint "$dir/none.ckpt" --out "$dir/x.gguf"
printf 'GGUF corrupt' > "$dir/bad.ckpt"
expect_fail "corrupt checkpoint" "bad.ckpt" --steps 2 --resume --checkpoint "$dir/bad.ckpt" --out "$dir/x.gguf"
expect_fail "checkpoint of other data" "data stream" --steps 6 --batch 2 --seed 4 --resume \
  --checkpoint "$dir/b.gguf.ckpt" --out "$dir/x.gguf"
expect_fail "preset and config" "one of" --preset nano-r1 --config "$dir/a.gguf" --out "$dir/x.gguf"
expect_fail "missing tokenizer" "tokenizer" --tokenizer "$dir/nothing" --out "$dir/x.gguf"

if [ "$failures" -ne 0 ]; then
  echo "$failures checks failed"
  exit 1
fi
echo "train_cli: all checks passed"
