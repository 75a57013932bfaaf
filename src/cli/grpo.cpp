// `whale grpo`: the RL stage of the R1 recipe. Starts from a cold-start GGUF (policy and frozen reference),
// samples groups of completions with the engine, rewards them by program (correct answer + well-formed
// think/answer shape) and trains the policy with GRPO's clipped objective and KL penalty. Writes the final
// GGUF, curves (reward, accuracy, format, length, KL, held-out accuracy) and checkpoints with resume.
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "train/bpe_trainer.h"
#include "train/grpo.h"

namespace whale::cli {
namespace {

struct GrpoCliOptions {
  std::string model, tokenizer, out, tasks = "all", curves, checkpoint, type = "f32";
  train::GrpoOptions grpo;
};

std::string strip_gguf(const std::string& path) {
  return path.size() > 5 && path.ends_with(".gguf") ? path.substr(0, path.size() - 5) : path;
}

void run_grpo_command(GrpoCliOptions o) {
  o.grpo.tasks = train::parse_task_list(o.tasks);
  // The tokenizer is re-exported with every policy snapshot: from --tokenizer, else rebuilt from the model.
  train::TrainedTokenizer tok = o.tokenizer.empty() ? train::tokenizer_from_gguf(o.model) : train::read_tokenizer_folder(o.tokenizer);
  Tokenizer tokenizer = Tokenizer::from_hf_json(tok.tokenizer_json, tok.tokenizer_config_json,
                                                o.tokenizer.empty() ? o.model : o.tokenizer);
  if (o.grpo.threads <= 0) o.grpo.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  train::Network policy = train::Network::load(o.model);
  if (policy.config().vocab_size < tokenizer.vocab_size()) {
    fail("{}: the model's vocabulary ({}) is smaller than the tokenizer's ({} in {})", o.model,
         policy.config().vocab_size, tokenizer.vocab_size(), o.tokenizer);
  }
  policy.set_threads(o.grpo.threads);
  std::optional<train::Network> reference;
  if (o.grpo.kl_beta > 0) {
    reference = train::Network::load(o.model);
    reference->set_threads(o.grpo.threads);
  }
  o.grpo.curves = o.curves.empty() ? strip_gguf(o.out) + "-grpo" : o.curves;
  o.grpo.checkpoint = o.checkpoint.empty() ? o.out + ".grpo.ckpt" : o.checkpoint;
  o.grpo.policy_path = o.out + ".policy.gguf";
  std::printf("grpo: %s, %lld parameters, tasks %s, %lld steps x %lld prompts x %d samples\n", o.model.c_str(),
              static_cast<long long>(policy.parameter_count()), o.tasks.c_str(), static_cast<long long>(o.grpo.steps),
              static_cast<long long>(o.grpo.prompts), o.grpo.group);
  train::GrpoResult r = train::run_grpo(policy, reference ? &*reference : nullptr, tok.tokenizer_json,
                                        tok.tokenizer_config_json, o.grpo, [](const std::string& line) {
                                          std::printf("%s\n", line.c_str());
                                          std::fflush(stdout);
                                        });
  train::save_gguf(policy, tok.tokenizer_json, tok.tokenizer_config_json, o.out,
                   o.type == "q8_0" ? DType::Q8_0 : DType::F32);
  std::printf("wrote %s%s (%d steps in %.1f s)\n", o.out.c_str(), r.complete ? "" : " (stopped early; resume with --resume)",
              static_cast<int>(r.steps_run), r.seconds);
}

}  // namespace

void add_grpo_command(CLI::App& app) {
  auto o = std::make_shared<GrpoCliOptions>();
  train::GrpoOptions& g = o->grpo;
  CLI::App* cmd = app.add_subcommand("grpo", "Reinforcement learning with GRPO from a cold-start model");
  cmd->add_option("-m,--model", o->model, "Cold-start model (.gguf from `whale train`): the policy's start and the KL reference")
      ->required();
  cmd->add_option("--tokenizer", o->tokenizer,
                  "Folder with the model's tokenizer.json (+ tokenizer_config.json); default: rebuilt from the model");
  cmd->add_option("--out", o->out, "Output model (.gguf)")->required();
  cmd->add_option("--task", o->tasks, "Comma-separated tasks or 'all'")->capture_default_str();
  cmd->add_option("--steps", g.steps, "GRPO steps")->check(CLI::Range(int64_t{1}, int64_t{10000000}))->capture_default_str();
  cmd->add_option("--prompts", g.prompts, "Problems per step")->check(CLI::Range(int64_t{1}, int64_t{100000}))->capture_default_str();
  cmd->add_option("--group", g.group, "Completions per problem (G)")->check(CLI::Range(2, 1024))->capture_default_str();
  cmd->add_option("--mu", g.mu, "Policy updates per batch of samples")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--lr", g.lr, "Peak learning rate")->check(CLI::Range(1e-8, 1.0))->capture_default_str();
  cmd->add_option("--min-lr", g.min_lr, "Final learning rate of the cosine decay")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--warmup", g.warmup, "Warmup steps")->check(CLI::Range(int64_t{0}, int64_t{10000000}))->capture_default_str();
  cmd->add_option("--weight-decay", g.weight_decay, "AdamW weight decay")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--clip-eps", g.clip_eps, "Ratio clipping range epsilon")->check(CLI::Range(0.0, 10.0))->capture_default_str();
  cmd->add_option("--kl-beta", g.kl_beta, "KL penalty weight (0: no reference model)")->check(CLI::Range(0.0, 100.0))->capture_default_str();
  cmd->add_option("--temperature", g.temperature, "Sampling temperature")->check(CLI::Range(0.01, 10.0))->capture_default_str();
  cmd->add_option("--format-weight", g.format_weight, "Reward of a well-formed completion (a correct answer earns 1)")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--max-tokens", g.max_tokens, "Generated tokens per completion at most")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  cmd->add_option("--micro-batch", g.micro_batch, "Sequences per forward/backward pass")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  cmd->add_option("--seed", g.seed, "Seed of the problems and the samples")->capture_default_str();
  cmd->add_option("--threads", g.threads, "Threads (0: all cores)")->check(CLI::Range(0, 256))->capture_default_str();
  cmd->add_option("--log-every", g.log_every, "Steps between log lines")->check(CLI::Range(int64_t{1}, int64_t{10000000}))->capture_default_str();
  cmd->add_option("--eval-every", g.eval_every, "Steps between held-out evaluations (0: none)")
      ->check(CLI::Range(int64_t{0}, int64_t{10000000}))
      ->capture_default_str();
  cmd->add_option("--eval-n", g.eval_n, "Held-out problems per task in those evaluations")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  cmd->add_option("--checkpoint", o->checkpoint, "Checkpoint path (default: OUT.grpo.ckpt)");
  cmd->add_option("--checkpoint-every", g.checkpoint_every, "Steps between checkpoints (0: only at the end)")
      ->check(CLI::Range(int64_t{0}, int64_t{10000000}));
  cmd->add_flag("--resume", g.resume, "Continue from the checkpoint");
  cmd->add_option("--stop-after", g.stop_after, "Stop after this many steps of this run (resume later with --resume)")
      ->check(CLI::Range(int64_t{0}, int64_t{10000000}));
  cmd->add_option("--curves", o->curves, "Curves prefix: PREFIX.csv and PREFIX-<column>.svg (default: OUT-grpo)");
  cmd->add_option("--type", o->type, "Weight matrices of the output: f32 or q8_0")
      ->check(CLI::IsMember({"f32", "q8_0"}))
      ->capture_default_str();
  cmd->callback([o] { run_grpo_command(*o); });
}

}  // namespace whale::cli
