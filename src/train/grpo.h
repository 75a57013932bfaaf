// GRPO (DeepSeekMath, DeepSeek-R1): group-relative advantages and, per completion, the clipped policy-ratio
// objective with a KL penalty to the reference policy, as coefficients Network::backward takes.
//
// For one completion of length T with advantage A, new/old/reference log-probabilities per token:
//   r_t = exp(logp_new_t - logp_old_t)
//   J = (1/T) sum_t [ min(r_t A, clip(r_t, 1-eps, 1+eps) A) - beta * (exp(d_t) - d_t - 1) ],  d_t = ref_t - new_t
// (the k3 KL estimator), averaged over the completion's tokens as DeepSeekMath does. coef[t] = dJ/dlogp_new_t:
// Network::backward minimizes -sum coef * logp, so passing coef (divided by the number of completions in the
// batch) takes a step up J.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "train/network.h"
#include "train/tasks.h"

namespace whale::train {

// (r - mean) / (std + 1e-4), std the population standard deviation of the group.
std::vector<float> group_advantages(std::span<const float> rewards);

struct GrpoTokenTerms {
  double objective = 0;     // J above
  std::vector<float> coef;  // dJ / d logp_new[t]
};

GrpoTokenTerms grpo_token_terms(std::span<const float> logp_new, std::span<const float> logp_old,
                                std::span<const float> logp_ref, float advantage, float clip_eps, float kl_beta);

// The RL stage. Each step: export the policy to a GGUF the engine loads, sample `group` completions for each of
// `prompts` train-split problems with the engine at `temperature`, reward = answer correct + format_weight *
// well formed, group-normalized advantages, then `mu` AdamW updates of the clipped objective with the KL
// penalty to `reference` (logp_old: the policy's forward before the first update, i.e. the sampling policy).
// Groups whose rewards are all equal carry no advantage and are skipped.
struct GrpoOptions {
  std::vector<Task> tasks = all_tasks();
  int64_t steps = 100;
  int64_t prompts = 8;        // problems per step
  int32_t group = 8;          // completions per problem (G)
  int32_t mu = 1;             // policy updates per batch of samples
  float lr = 1e-4f;
  float min_lr = 1e-5f;
  int64_t warmup = 0;
  float weight_decay = 0.0f;
  float clip_grad = 1.0f;
  float clip_eps = 0.2f;
  float kl_beta = 0.04f;
  float temperature = 1.0f;
  float format_weight = 0.5f;
  float bias_rate = 1e-3f;     // expert score-bias balancing (deepseek2)
  int64_t max_tokens = 256;    // generated tokens per completion
  int64_t micro_batch = 16;    // sequences per forward / backward
  uint64_t seed = 0;
  int threads = 1;
  int64_t log_every = 1;
  int64_t eval_every = 0;      // 0: no held-out evaluation during training
  int64_t eval_n = 100;
  std::string checkpoint;      // "" = none
  int64_t checkpoint_every = 0;
  bool resume = false;
  int64_t stop_after = 0;
  std::string curves;          // "" = none
  std::string policy_path;     // where the policy is exported for sampling each step
};

struct GrpoResult {
  int64_t steps_run = 0;
  bool complete = false;  // reached options.steps (not stopped by stop_after)
  double seconds = 0;
  double last_reward = 0;
  double last_accuracy = 0;
};

GrpoResult run_grpo(Network& policy, Network* reference, const std::string& tokenizer_json,
                    const std::string& tokenizer_config_json, const GrpoOptions& options,
                    const std::function<void(const std::string&)>& log);

}  // namespace whale::train
