#!/usr/bin/env bash
# The shipped models (models/nano-r1.gguf, models/nano-r1-distill.gguf): they load, are what the README says
# (DeepSeek-V3 architecture with MTP under 8 MB; a dense student under a third of its parameters), answer
# held-out problems, and through the API answer a question typed the way people type it with the chain of
# thought in reasoning_content and the right number in content (checked by computing it here).
source "$WHALE_SOURCE_DIR/tests/server/lib/serve.sh"
MODELS="$WHALE_SOURCE_DIR/models"
teacher="$MODELS/nano-r1.gguf"
student="$MODELS/nano-r1-distill.gguf"

check "nano-r1 is at most 8 MB" "$(( $(stat -c %s "$teacher") <= 8000000 ))" 1
"$WHALE" info -m "$teacher" --json >"$WORK/teacher.json"
"$WHALE" info -m "$student" --json >"$WORK/student.json"
check "nano-r1 is deepseek2" "$(js "$WORK/teacher.json" d.architecture)" deepseek2
check "nano-r1 has an MTP block" "$(js "$WORK/teacher.json" 'd.nextn_predict_layers > 0')" true
check "student is dense qwen2" "$(js "$WORK/student.json" d.architecture)" qwen2
check "student under a third of the teacher" \
  "$(node -e 'const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f)).parameters); console.log(b * 3 < a)' "$WORK/teacher.json" "$WORK/student.json")" true

# Held-out problems, greedy: both models solve most 1-4 digit additions.
for model in teacher student; do
  file=$teacher
  [ $model == student ] && file=$student
  "$WHALE" eval -m "$file" --task addition --n 40 --threads 2 --json >"$WORK/eval-$model.json"
  check "$model solves held-out additions" "$(js "$WORK/eval-$model.json" 'd.greedy_accuracy >= 0.5')" true
  check "$model answers are well formed" "$(js "$WORK/eval-$model.json" 'd.format_rate >= 0.9')" true
done

# The first chat of a new user: a typed question, reasoning in its own field, the number in the answer.
start_server shipped -m "$teacher" --parallel 2 --threads 2
for q in "What is 12 + 35?:47" "Please calculate 40+21:61"; do
  question=${q%:*}
  expected=${q##*:}
  post /v1/chat/completions "{\"messages\":[{\"role\":\"user\",\"content\":\"$question\"}],\"temperature\":0,\"max_tokens\":300}" "$WORK/chat.json" >/dev/null
  check "reasoning for '$question'" "$(js "$WORK/chat.json" 'd.choices[0].message.reasoning_content.length > 10')" true
  check "answer to '$question'" "$(js "$WORK/chat.json" "d.choices[0].message.content.includes('$expected')")" true
done
finish
