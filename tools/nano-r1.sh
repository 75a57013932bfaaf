#!/usr/bin/env bash
# Reproduces the shipped models from scratch (what `make nano-r1` runs): the R1 recipe at laptop scale.
#   1. a byte-level BPE tokenizer trained on the task corpus;
#   2. cold start: supervised training of nano-r1 (DeepSeek-V3 architecture: MLA, DeepSeekMoE, MTP) on
#      step-by-step reasoning traces;
#   3. GRPO: reinforcement learning with rule-checked rewards from the cold-start model;
#   4. distillation: the RL model writes traces for new problems, a dense qwen2 student a third its size
#      trains on them;
#   5. held-out evaluation of every stage (WORK/eval-*.json); the RL model and the student, with Q8_0 matrices,
#      are the two shipped files in OUT_DIR.
# Every stage is deterministic for its seed and thread count independent, so a rerun gives the same models
# (on the same instruction set: the kernels' rounding differs between AVX2 and AVX-512).
# Stages whose output exists are skipped: rerunning after an interruption continues where it stopped.
#
# Usage: tools/nano-r1.sh [WORK_DIR] [OUT_DIR]     (defaults: build/nano-r1, models)
# Environment: WHALE (binary, default build/whale), THREADS (default: all cores), SFT_STEPS, GRPO_STEPS,
# DISTILL_STEPS, EVAL_N.
set -euo pipefail
WHALE=${WHALE:-build/whale}
WORK=${1:-build/nano-r1}
OUT_DIR=${2:-models}
THREADS=${THREADS:-$(nproc)}
SFT_STEPS=${SFT_STEPS:-1800}
GRPO_STEPS=${GRPO_STEPS:-40}
DISTILL_STEPS=${DISTILL_STEPS:-1500}
EVAL_N=${EVAL_N:-100}
TASKS=addition,subtraction,multiplication
mkdir -p "$WORK" "$OUT_DIR"
stage() { echo "== $(date +%T) $*" >&2; }

if [ ! -f "$WORK/tokenizer/tokenizer.json" ]; then
  stage "tokenizer"
  "$WHALE" train-tokenizer --task "$TASKS" --vocab 512 --seed 1 --out "$WORK/tokenizer"
fi

if [ ! -f "$WORK/cold.gguf" ]; then
  stage "cold start: $SFT_STEPS steps"
  resume=()
  [ -f "$WORK/cold.gguf.ckpt" ] && resume=(--resume)
  "$WHALE" train --preset nano-r1 --tokenizer "$WORK/tokenizer" --task "$TASKS" --steps "$SFT_STEPS" --batch 16 \
    --warmup 100 --lr 3e-3 --seed 1 --threads "$THREADS" --checkpoint "$WORK/cold.gguf.ckpt" --checkpoint-every 100 \
    --log-every 25 --curves "$WORK/cold-train" --out "$WORK/cold.gguf" "${resume[@]}"
fi

evaluate() {  # evaluate NAME MODEL
  [ -f "$WORK/eval-$1.json" ] && return
  stage "eval $1"
  "$WHALE" eval -m "$2" --task "$TASKS" --n "$EVAL_N" --seed 7 --threads "$THREADS" --json >"$WORK/eval-$1.json"
  cat "$WORK/eval-$1.json" >&2
}
evaluate cold "$WORK/cold.gguf"

if [ ! -f "$WORK/grpo.gguf" ]; then
  stage "GRPO: $GRPO_STEPS steps"
  resume=()
  [ -f "$WORK/grpo.gguf.grpo.ckpt" ] && resume=(--resume)
  "$WHALE" grpo -m "$WORK/cold.gguf" --tokenizer "$WORK/tokenizer" --task "$TASKS" --steps "$GRPO_STEPS" \
    --prompts 16 --group 8 --lr 1e-4 --kl-beta 0.04 --temperature 1 --seed 1 --threads "$THREADS" \
    --checkpoint "$WORK/grpo.gguf.grpo.ckpt" --checkpoint-every 10 --curves "$WORK/grpo" --type q8_0 \
    --out "$WORK/grpo.gguf" "${resume[@]}"
fi
evaluate grpo "$WORK/grpo.gguf"

if [ ! -f "$WORK/distill.gguf" ]; then
  stage "distillation: $DISTILL_STEPS steps"
  resume=()
  [ -f "$WORK/distill.gguf.ckpt" ] && resume=(--resume)
  "$WHALE" distill --teacher "$WORK/grpo.gguf" --tokenizer "$WORK/tokenizer" --task "$TASKS" --problems 2000 \
    --steps "$DISTILL_STEPS" --batch 16 --seed 1 --threads "$THREADS" --checkpoint "$WORK/distill.gguf.ckpt" \
    --checkpoint-every 100 --curves "$WORK/distill" --traces "$WORK/distill-traces.jsonl" --type q8_0 \
    --out "$WORK/distill.gguf" "${resume[@]}"
fi
evaluate distill "$WORK/distill.gguf"

stage "shipping into $OUT_DIR"
cp "$WORK/grpo.gguf" "$OUT_DIR/nano-r1.gguf"
cp "$WORK/distill.gguf" "$OUT_DIR/nano-r1-distill.gguf"
ls -l "$OUT_DIR"/nano-r1*.gguf >&2
