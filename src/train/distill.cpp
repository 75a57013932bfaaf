// Teacher traces for distillation: prompts rendered as the server renders them, answers checked by program,
// the kept reasoning copied verbatim from the teacher's output.
#include "train/distill.h"

#include <chrono>

#include "core/error.h"
#include "train/tasks_rng.h"

namespace whale::train {

uint64_t distill_problem_seed(uint64_t seed) { return mix64(seed ^ 0x64697374696c6cULL); }

bool split_completion(std::string_view completion, std::string& reasoning, std::string& answer) {
  if (!format_ok(completion)) return false;
  constexpr std::string_view kOpen = "<think>\n", kClose = "\n</think>";
  if (completion.substr(0, kOpen.size()) == kOpen) completion.remove_prefix(kOpen.size());
  size_t close = completion.find(kClose);
  if (close == std::string_view::npos) return false;
  reasoning = std::string(completion.substr(0, close));
  answer = std::string(final_answer(completion));
  return !answer.empty();
}

TraceSet teacher_traces(EnginePool& teacher, const TraceOptions& o) {
  if (o.tasks.empty()) fail("--task: no task given");
  if (o.problems < 1) fail("--problems: expected at least 1, got {}", o.problems);
  const auto start = std::chrono::steady_clock::now();
  const uint64_t seed = distill_problem_seed(o.seed);
  std::vector<Problem> problems;
  std::vector<SampleRequest> requests;
  for (int64_t i = 0; i < o.problems; ++i) {
    Task task = o.tasks[static_cast<size_t>(i) % o.tasks.size()];
    problems.push_back(make_problem(task, Split::Train, seed, static_cast<uint64_t>(i)));
    requests.push_back({prompt_tokens(teacher.tokenizer(), teacher.chat_template(), problems.back()), o.temperature,
                        mix64(seed + static_cast<uint64_t>(i))});
  }
  std::vector<Generated> generated = teacher.generate(requests, o.max_tokens);
  TraceSet set;
  set.generated = static_cast<int64_t>(generated.size());
  for (size_t i = 0; i < generated.size(); ++i) {
    Trace trace;
    trace.problem = problems[i];
    if (!generated[i].finished || !answer_correct(problems[i], generated[i].text)) continue;
    if (!split_completion(generated[i].text, trace.reasoning, trace.answer)) continue;
    set.kept.push_back(std::move(trace));
  }
  set.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return set;
}

}  // namespace whale::train
