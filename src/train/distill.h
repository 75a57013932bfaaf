// Distillation (the last stage of the R1 recipe): the RL-trained teacher writes reasoning traces for new
// train-split problems with the engine; only the correct, well-formed ones are kept, re-rendered in the chat
// format, and a smaller dense student learns them by supervised training (train/sft.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/chat_format.h"
#include "train/eval.h"
#include "train/tasks.h"

namespace whale::train {

struct TraceOptions {
  std::vector<Task> tasks = all_tasks();
  int64_t problems = 2000;     // problems the teacher answers (tasks in turn)
  float temperature = 0.0f;    // 0: greedy traces
  int64_t max_tokens = 256;
  uint64_t seed = 0;           // the problems are drawn with a seed derived from it, apart from the cold start's
};

struct Trace {
  Problem problem;
  std::string reasoning;  // the teacher's, between the think tags
  std::string answer;     // the teacher's final answer
};

struct TraceSet {
  std::vector<Trace> kept;
  int64_t generated = 0;
  double seconds = 0;
};

// The problems' seed for distillation, so they are new relative to `whale train --seed S` with the same S.
uint64_t distill_problem_seed(uint64_t seed);

// Splits a completion "[<think>\n]reasoning\n</think>\n\nanswer" into reasoning and answer; false when it is
// not shaped that way.
bool split_completion(std::string_view completion, std::string& reasoning, std::string& answer);

// Runs the teacher on the problems and keeps the traces whose answer is right and shape well formed.
TraceSet teacher_traces(EnginePool& teacher, const TraceOptions& options);

}  // namespace whale::train
