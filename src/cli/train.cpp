// `whale train`: the cold-start stage of the R1 recipe. Supervised training of a network of a shipped shape
// (--preset nano-r1 / nano-r1-distill, or --arch deepseek2 / qwen2) or of an existing GGUF model (--config) on
// the built-in tasks' reasoning traces rendered with the R1 chat template, writing a GGUF model the engine
// serves, curves (CSV + SVG) and resumable checkpoints.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "train/bpe_trainer.h"
#include "train/chat_format.h"
#include "train/network.h"
#include "train/sft.h"
#include "train/tasks.h"

namespace whale::cli {
namespace {

namespace fs = std::filesystem;

struct TrainOptions {
  std::string preset;
  std::string arch;
  std::string config;
  std::string tokenizer;
  int64_t vocab_size = 600;
  std::string tasks = "addition,subtraction,multiplication";
  int64_t steps = 1000;
  int64_t batch = 16;
  int64_t warmup = 50;
  float lr = 3e-3f;
  float min_lr_ratio = 0.1f;
  float weight_decay = 0.1f;
  float mtp_weight = 0.3f;
  uint64_t seed = 1;
  int threads = 0;
  bool resume = false;
  int64_t stop_after = 0;
  std::string checkpoint;
  int64_t checkpoint_every = 100;
  int64_t log_every = 10;
  std::string out;
  std::string curves;
  std::string type = "f32";
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read the file", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string strip_gguf(const std::string& path) {
  return path.size() > 5 && path.ends_with(".gguf") ? path.substr(0, path.size() - 5) : path;
}

void run_train(const TrainOptions& o) {
  const std::vector<train::Task> tasks = train::parse_task_list(o.tasks);
  const int chosen = (o.preset.empty() ? 0 : 1) + (o.arch.empty() ? 0 : 1) + (o.config.empty() ? 0 : 1);
  if (chosen > 1) fail("give one of --preset, --arch and --config, not several");

  // Tokenizer: the given folder, or a byte-level BPE trained here on the tasks' corpus.
  train::TrainedTokenizer tok;
  if (!o.tokenizer.empty()) {
    const fs::path dir(o.tokenizer);
    const fs::path json = fs::is_directory(dir) ? dir / "tokenizer.json" : dir;
    if (!fs::is_regular_file(json)) fail("--tokenizer {}: no tokenizer.json there", o.tokenizer);
    tok.tokenizer_json = read_text(json.string());
    const fs::path config_path = json.parent_path() / "tokenizer_config.json";
    if (fs::exists(config_path)) tok.tokenizer_config_json = read_text(config_path.string());
  } else {
    tok = train::train_bpe(train::task_corpus(tasks, 2000, o.seed), static_cast<int32_t>(o.vocab_size),
                           train::r1_chat_template());
  }
  const Tokenizer tokenizer = Tokenizer::from_hf_json(tok.tokenizer_json, tok.tokenizer_config_json,
                                                      o.tokenizer.empty() ? "trained tokenizer" : o.tokenizer);
  const ChatTemplate chat = train::r1_chat();

  train::Network network = [&] {
    if (!o.config.empty()) return train::Network::load(o.config);
    std::string preset = o.preset.empty() ? "nano-r1" : o.preset;
    if (!o.arch.empty()) {
      if (o.arch == "deepseek2") {
        preset = "nano-r1";
      } else if (o.arch == "qwen2") {
        preset = "nano-r1-distill";
      } else {
        fail("--arch {}: expected deepseek2 or qwen2", o.arch);
      }
    }
    return train::Network::create(train::train_preset(preset, tokenizer.vocab_size()), o.seed);
  }();
  if (network.config().vocab_size < tokenizer.vocab_size()) {
    fail("the model's vocabulary ({}) is smaller than the tokenizer's ({})", network.config().vocab_size,
         tokenizer.vocab_size());
  }
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  network.set_threads(threads);
  fmt::print("model: {} ({}), {} parameters, {} threads\n", network.config().name, network.config().arch,
             network.parameter_count(), threads);

  if (o.batch < 1) fail("--batch must be at least 1, got {}", o.batch);
  const int64_t batch_size = o.batch;
  const uint64_t seed = o.seed;
  train::BatchSource batches = [&, batch_size, seed](int64_t step) {
    std::vector<train::Example> examples;
    for (int64_t i = 0; i < batch_size; ++i) {
      const auto index = static_cast<uint64_t>(step * batch_size + i);
      const train::Task task = tasks[index % tasks.size()];
      const train::Problem problem = train::make_problem(task, train::Split::Train, seed, index);
      examples.push_back(train::sft_example(tokenizer, chat, problem));
    }
    return examples;
  };

  train::SftOptions so;
  so.steps = o.steps;
  so.warmup = std::min(o.warmup, o.steps);
  so.lr = o.lr;
  so.min_lr = o.lr * o.min_lr_ratio;
  so.weight_decay = o.weight_decay;
  so.mtp_weight = o.mtp_weight;
  so.log_every = o.log_every;
  so.checkpoint_every = o.checkpoint_every;
  so.checkpoint = o.checkpoint.empty() ? o.out + ".ckpt" : o.checkpoint;
  so.resume = o.resume;
  so.stop_after = o.stop_after;
  so.curves = o.curves.empty() ? strip_gguf(o.out) + "-train" : o.curves;
  so.data_fingerprint = fmt::format("seed={} tasks={} batch={}", o.seed, o.tasks, o.batch);
  const train::SftResult r = train::run_sft(network, batches, so, [](const std::string& line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
  });

  const DType type = o.type == "q8_0" ? DType::Q8_0 : DType::F32;
  train::save_gguf(network, tok.tokenizer_json, tok.tokenizer_config_json, o.out, type);
  const double tps = r.seconds > 0 ? static_cast<double>(r.tokens) / r.seconds : 0.0;
  fmt::print("wrote {} ({} steps this run, {} tokens in {:.1f} s, {:.0f} tokens/s, last loss {:.4f})\n", o.out,
             r.steps_run, r.tokens, r.seconds, tps, r.last_loss);
  fmt::print("curves: {}.csv, checkpoint: {}\n", so.curves, so.checkpoint);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Supervised training (R1 cold start) on the built-in reasoning tasks");
  cmd->add_option("--preset", o->preset, "Model shape: nano-r1 (deepseek2, default) or nano-r1-distill (qwen2)")
      ->check(CLI::IsMember(train::train_preset_names()));
  cmd->add_option("--arch", o->arch, "deepseek2 (the nano-r1 shape) or qwen2 (the nano-r1-distill shape)")
      ->check(CLI::IsMember({"deepseek2", "qwen2"}));
  cmd->add_option("--config", o->config, "Start from this GGUF model (its shape and weights) instead of a preset");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "Folder with tokenizer.json (+ tokenizer_config.json); default: train a BPE on the tasks here");
  cmd->add_option("--vocab-size", o->vocab_size, "Vocabulary of the tokenizer trained without --tokenizer")
      ->check(CLI::Range(300, 65536))
      ->capture_default_str();
  cmd->add_option("--task", o->tasks, "Comma-separated tasks or 'all'")->capture_default_str();
  cmd->add_option("--steps", o->steps, "Optimizer steps")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Examples per step")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Warmup steps")
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}))
      ->capture_default_str();
  cmd->add_option("--lr", o->lr, "Peak learning rate")->check(CLI::Range(1e-7, 1.0))->capture_default_str();
  cmd->add_option("--min-lr-ratio", o->min_lr_ratio, "Final learning rate as a fraction of the peak")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "AdamW weight decay")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--mtp-weight", o->mtp_weight, "Weight of the MTP loss")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the initial weights and the data")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_flag("--resume", o->resume, "Continue from the checkpoint");
  cmd->add_option("--stop-after", o->stop_after, "Stop after this many steps of this run (resume later with --resume)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  cmd->add_option("--checkpoint", o->checkpoint, "Checkpoint path (default: OUT.ckpt)");
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "Steps between checkpoints (0: only at the end)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}))
      ->capture_default_str();
  cmd->add_option("--log-every", o->log_every, "Steps between log lines and curve points")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output model (.gguf)")->required();
  cmd->add_option("--curves", o->curves, "Curves prefix: PREFIX.csv and PREFIX-<column>.svg (default: OUT-train)");
  cmd->add_option("--type", o->type, "Weight matrices of the output: f32 or q8_0")
      ->check(CLI::IsMember({"f32", "q8_0"}))
      ->capture_default_str();
  cmd->callback([o] { run_train(*o); });
}

}  // namespace whale::cli
