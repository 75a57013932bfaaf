// `whale distill`: the teacher (an RL-trained GGUF) writes reasoning traces for new train-split problems with
// the engine, the correct and well-formed ones are kept, and a student of a smaller preset (default
// nano-r1-distill, dense qwen2) is trained on them by supervised learning. Writes the student GGUF, curves,
// a checkpoint, and optionally the kept traces as JSON lines.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "train/bpe_trainer.h"
#include "train/distill.h"
#include "train/network.h"
#include "train/sft.h"
#include "train/tasks_rng.h"

namespace whale::cli {
namespace {

struct DistillCliOptions {
  std::string teacher, tokenizer, out, tasks = "all", preset = "nano-r1-distill", curves, checkpoint, traces;
  std::string type = "f32", from_traces;
  train::TraceOptions trace;
  int64_t steps = 1000, batch = 16, warmup = 50, log_every = 10, checkpoint_every = 0, stop_after = 0;
  float lr = 3e-3f, min_lr_ratio = 0.1f, weight_decay = 0.1f;
  uint64_t seed = 0;
  int threads = 0;
  bool resume = false;
};

std::string strip_gguf(const std::string& path) {
  return path.size() > 5 && path.ends_with(".gguf") ? path.substr(0, path.size() - 5) : path;
}

// Traces as --traces writes them: one JSON object per line with task, question, reasoning and answer.
std::vector<train::Trace> read_traces(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("--from-traces: {}: cannot open", path);
  std::vector<train::Trace> traces;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail("{}:{}: invalid JSON: {}", path, number, e.what());
    }
    for (const char* key : {"task", "question", "reasoning", "answer"}) {
      if (!j.is_object() || !j.contains(key) || !j[key].is_string()) fail("{}:{}: expected a string \"{}\"", path, number, key);
    }
    std::optional<train::Task> task = train::parse_task(j["task"].get<std::string>());
    if (!task) fail("{}:{}: unknown task \"{}\"", path, number, j["task"].get<std::string>());
    train::Trace t;
    t.problem.task = *task;
    t.problem.question = j["question"].get<std::string>();
    t.reasoning = j["reasoning"].get<std::string>();
    t.answer = j["answer"].get<std::string>();
    traces.push_back(std::move(t));
  }
  return traces;
}

void run_distill(DistillCliOptions o) {
  o.trace.tasks = train::parse_task_list(o.tasks);
  o.trace.seed = o.seed;
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.tokenizer.empty() && o.teacher.empty()) fail("--tokenizer: required with --from-traces (no teacher to take it from)");
  const std::string tokenizer_source = o.tokenizer.empty() ? o.teacher : o.tokenizer;
  train::TrainedTokenizer tok =
      o.tokenizer.empty() ? train::tokenizer_from_gguf(o.teacher) : train::read_tokenizer_folder(o.tokenizer);
  const Tokenizer tokenizer = Tokenizer::from_hf_json(tok.tokenizer_json, tok.tokenizer_config_json, tokenizer_source);
  train::Network student = train::Network::create(train::train_preset(o.preset, tokenizer.vocab_size()), o.seed);
  student.set_threads(threads);

  // 1. The teacher's traces (or traces an earlier run wrote with --traces).
  const ChatTemplate chat = train::chat_template_of(tok, tokenizer_source);
  std::vector<train::Trace> kept;
  int64_t teacher_parameters = 0;
  if (!o.from_traces.empty()) {
    kept = read_traces(o.from_traces);
    std::printf("%lld traces from %s\n", static_cast<long long>(kept.size()), o.from_traces.c_str());
  } else {
    if (o.teacher.empty()) fail("--teacher: required unless --from-traces is given");
    train::EnginePool teacher(o.teacher, threads);
    if (teacher.tokenizer().vocab_size() != tokenizer.vocab_size()) {
      fail("{}: the teacher's vocabulary ({} tokens) is not the tokenizer's in {} ({} tokens)", o.teacher,
           teacher.tokenizer().vocab_size(), tokenizer_source, tokenizer.vocab_size());
    }
    teacher_parameters = train::Network::load(o.teacher).parameter_count();
    train::TraceSet traces = train::teacher_traces(teacher, o.trace);
    std::printf("teacher %s (%lld parameters): %lld of %lld traces correct and kept (%.1f%%) in %.1f s\n",
                o.teacher.c_str(), static_cast<long long>(teacher_parameters),
                static_cast<long long>(traces.kept.size()), static_cast<long long>(traces.generated),
                100.0 * static_cast<double>(traces.kept.size()) / static_cast<double>(traces.generated), traces.seconds);
    kept = std::move(traces.kept);
    if (kept.empty()) fail("{}: the teacher answered none of the {} problems correctly; nothing to distill", o.teacher, traces.generated);
  }
  if (kept.empty()) fail("--from-traces: {}: no traces", o.from_traces);
  if (!o.traces.empty()) {
    std::ofstream out(o.traces, std::ios::binary);
    if (!out) fail("--traces: {}: cannot open for writing", o.traces);
    for (const train::Trace& t : kept) {
      out << nlohmann::ordered_json{{"task", train::task_name(t.problem.task)},
                            {"question", t.problem.question},
                            {"reasoning", t.reasoning},
                            {"answer", t.answer}}
                 .dump()
          << "\n";
    }
  }

  // 2. The student learns the kept traces (in a fixed shuffled order, so a step's batch is a function of it).
  std::vector<train::Example> examples;
  for (const train::Trace& t : kept) {
    examples.push_back(train::sft_example(tokenizer, chat, t.problem, t.reasoning, t.answer));
  }
  std::vector<size_t> order(examples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  train::Rng rng(train::mix64(o.seed ^ 0x73747564ULL));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
  const int64_t batch = o.batch;
  train::BatchSource batches = [&](int64_t step) {
    std::vector<train::Example> out;
    for (int64_t i = 0; i < batch; ++i) out.push_back(examples[order[static_cast<size_t>(step * batch + i) % order.size()]]);
    return out;
  };
  train::SftOptions so;
  so.steps = o.steps;
  so.warmup = std::min(o.warmup, o.steps);
  so.lr = o.lr;
  so.min_lr = o.lr * o.min_lr_ratio;
  so.weight_decay = o.weight_decay;
  so.log_every = o.log_every;
  so.checkpoint_every = o.checkpoint_every;
  so.checkpoint = o.checkpoint.empty() ? o.out + ".ckpt" : o.checkpoint;
  so.resume = o.resume;
  so.stop_after = o.stop_after;
  so.curves = o.curves.empty() ? strip_gguf(o.out) + "-distill" : o.curves;
  so.data_fingerprint = fmt::format("distill teacher={} seed={} tasks={} problems={} batch={}", o.teacher, o.seed,
                                    o.tasks, o.trace.problems, o.batch);
  std::string share = teacher_parameters > 0 ? fmt::format(" ({:.1f}% of the teacher)", 100.0 * static_cast<double>(student.parameter_count()) /
                                                                                         static_cast<double>(teacher_parameters))
                                             : "";
  std::printf("student: %s (%s), %lld parameters%s, %d threads\n", o.preset.c_str(), student.config().arch.c_str(),
              static_cast<long long>(student.parameter_count()), share.c_str(), threads);
  const train::SftResult r = train::run_sft(student, batches, so, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  train::save_gguf(student, tok.tokenizer_json, tok.tokenizer_config_json, o.out,
                   o.type == "q8_0" ? DType::Q8_0 : DType::F32);
  std::printf("wrote %s (%lld steps this run in %.1f s, last loss %.4f); curves: %s.csv\n", o.out.c_str(),
              static_cast<long long>(r.steps_run), r.seconds, r.last_loss, so.curves.c_str());
}

}  // namespace

void add_distill_command(CLI::App& app) {
  auto o = std::make_shared<DistillCliOptions>();
  CLI::App* cmd = app.add_subcommand("distill", "Distill a teacher's reasoning traces into a smaller dense student");
  cmd->add_option("--teacher", o->teacher, "Teacher model (.gguf, e.g. from `whale grpo`)");
  cmd->add_option("--from-traces", o->from_traces, "Train on traces an earlier run wrote with --traces (no teacher)");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "Folder with the teacher's tokenizer.json (+ tokenizer_config.json); default: rebuilt from the teacher");
  cmd->add_option("--out", o->out, "Output student model (.gguf)")->required();
  cmd->add_option("--task", o->tasks, "Comma-separated tasks or 'all'")->capture_default_str();
  cmd->add_option("--problems", o->trace.problems, "New train-split problems the teacher answers")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}))
      ->capture_default_str();
  cmd->add_option("--temperature", o->trace.temperature, "Teacher sampling temperature (0: greedy)")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--max-tokens", o->trace.max_tokens, "Generated tokens per trace at most")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  cmd->add_option("--preset", o->preset, "Student shape")->check(CLI::IsMember(train::train_preset_names()))->capture_default_str();
  cmd->add_option("--steps", o->steps, "Student optimizer steps")->check(CLI::Range(int64_t{1}, int64_t{100000000}))->capture_default_str();
  cmd->add_option("--batch", o->batch, "Examples per step")->check(CLI::Range(int64_t{1}, int64_t{4096}))->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Warmup steps")->check(CLI::Range(int64_t{0}, int64_t{100000000}))->capture_default_str();
  cmd->add_option("--lr", o->lr, "Peak learning rate")->check(CLI::Range(1e-7, 1.0))->capture_default_str();
  cmd->add_option("--min-lr-ratio", o->min_lr_ratio, "Final learning rate as a fraction of the peak")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "AdamW weight decay")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the problems, the student's initial weights and the data order")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->check(CLI::Range(0, 256))->capture_default_str();
  cmd->add_option("--log-every", o->log_every, "Steps between log lines and curve points")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}))
      ->capture_default_str();
  cmd->add_option("--checkpoint", o->checkpoint, "Checkpoint path (default: OUT.ckpt)");
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "Steps between checkpoints (0: only at the end)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  cmd->add_flag("--resume", o->resume, "Continue the student's training from the checkpoint (traces are regenerated)");
  cmd->add_option("--stop-after", o->stop_after, "Stop after this many steps of this run")
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  cmd->add_option("--curves", o->curves, "Curves prefix (default: OUT-distill)");
  cmd->add_option("--traces", o->traces, "Write the kept traces here as JSON lines");
  cmd->add_option("--type", o->type, "Weight matrices of the output: f32 or q8_0")
      ->check(CLI::IsMember({"f32", "q8_0"}))
      ->capture_default_str();
  cmd->callback([o] { run_distill(*o); });
}

}  // namespace whale::cli
