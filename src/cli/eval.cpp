// `whale eval`: accuracy of a model on held-out problems of a task, through the inference engine: greedy
// accuracy, pass@1 over --samples temperature-1 samples, the share of well-formed answers and the mean
// reasoning length in tokens. Deterministic for --seed.
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "train/eval.h"

namespace whale::cli {
namespace {

struct EvalCliOptions {
  std::string model;
  std::string task;
  train::EvalOptions eval;
  bool json = false;
};

void run_eval(const EvalCliOptions& o) {
  std::vector<train::Task> tasks = train::parse_task_list(o.task);
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  train::EnginePool engine(o.model, o.eval.threads);
  for (train::Task task : tasks) {
    train::EvalResult r = train::evaluate(engine, task, o.eval);
    if (o.json) {
      results.push_back({{"task", train::task_name(task)},
                         {"n", r.n},
                         {"samples", o.eval.samples},
                         {"seed", o.eval.seed},
                         {"greedy_accuracy", r.greedy_accuracy},
                         {"pass1", r.pass1},
                         {"format_rate", r.format_rate},
                         {"mean_reasoning_tokens", r.mean_reasoning_tokens}});
    } else {
      std::string pass1 = o.eval.samples > 0 ? fmt::format("{:.1f}%", 100 * r.pass1) : "-";
      fmt::print("{}: n={} greedy accuracy {:.1f}%, pass@1 ({} samples) {}, well-formed {:.1f}%, "
                 "mean reasoning tokens {:.1f}\n",
                 train::task_name(task), r.n, 100 * r.greedy_accuracy, o.eval.samples, pass1, 100 * r.format_rate,
                 r.mean_reasoning_tokens);
    }
  }
  if (o.json) fmt::print("{}\n", tasks.size() == 1 ? results[0].dump() : results.dump());
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalCliOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Accuracy on held-out problems of the built-in tasks");
  cmd->add_option("-m,--model", options->model, "Model: a .gguf file or a Hugging Face folder")->required();
  cmd->add_option("--task", options->task, "A task (addition, subtraction, multiplication, countdown, linear), a "
                                           "comma-separated list, or all")
      ->required();
  cmd->add_option("--n", options->eval.n, "Held-out problems")->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  cmd->add_option("--samples", options->eval.samples, "Temperature-1 samples per problem for pass@1 (0: greedy only)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--seed", options->eval.seed, "Seed of the problems and the samples")->capture_default_str();
  cmd->add_option("--threads", options->eval.threads, "Worker threads (each runs its own copy of the model)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--max-tokens", options->eval.max_tokens, "Generated tokens per answer at most")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  cmd->add_flag("--json", options->json, "Print the result as JSON");
  cmd->callback([options] { run_eval(*options); });
}

}  // namespace whale::cli
