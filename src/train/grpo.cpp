// GRPO's math, written out from DeepSeekMath (Shao et al. 2024, eq. 3-4) and DeepSeek-R1: the group-relative
// advantage, the clipped surrogate and the k3 estimate of KL(new || ref), with their derivatives with respect
// to the new policy's log-probabilities.
#include "train/grpo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "train/chat_format.h"
#include "train/curves.h"
#include "train/eval.h"
#include "train/tasks_rng.h"

namespace whale::train {

std::vector<float> group_advantages(std::span<const float> rewards) {
  std::vector<float> advantages(rewards.size(), 0.0f);
  if (rewards.empty()) return advantages;
  double mean = 0;
  for (float r : rewards) mean += r;
  mean /= static_cast<double>(rewards.size());
  double var = 0;
  for (float r : rewards) var += (r - mean) * (r - mean);
  double std_dev = std::sqrt(var / static_cast<double>(rewards.size()));
  for (size_t i = 0; i < rewards.size(); ++i) {
    advantages[i] = static_cast<float>((rewards[i] - mean) / (std_dev + 1e-4));
  }
  return advantages;
}

GrpoTokenTerms grpo_token_terms(std::span<const float> logp_new, std::span<const float> logp_old,
                                std::span<const float> logp_ref, float advantage, float clip_eps, float kl_beta) {
  WHALE_ASSERT(logp_new.size() == logp_old.size() && logp_new.size() == logp_ref.size());
  GrpoTokenTerms out;
  out.coef.assign(logp_new.size(), 0.0f);
  if (logp_new.empty()) return out;
  const double inv_len = 1.0 / static_cast<double>(logp_new.size());
  const double a = advantage;
  double total = 0;
  for (size_t t = 0; t < logp_new.size(); ++t) {
    double ratio = std::exp(static_cast<double>(logp_new[t]) - logp_old[t]);
    double clipped = std::clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps);
    double surrogate = ratio * a, surrogate_clipped = clipped * a;
    // d(ratio * A)/d logp_new = ratio * A; when the clipped term is the smaller one the ratio sits outside
    // the trust region and that term is constant, so the token contributes no policy gradient.
    double grad = surrogate <= surrogate_clipped ? surrogate : 0.0;
    double d = static_cast<double>(logp_ref[t]) - logp_new[t];
    double kl = std::exp(d) - d - 1.0;
    // d kl / d logp_new = 1 - exp(d); the objective subtracts beta * kl.
    grad += kl_beta * (std::exp(d) - 1.0);
    total += std::min(surrogate, surrogate_clipped) - kl_beta * kl;
    out.coef[t] = static_cast<float>(grad * inv_len);
  }
  out.objective = total * inv_len;
  return out;
}

namespace {

struct Sample {
  std::vector<int32_t> sequence;  // prompt + completion
  size_t prompt_length = 0;
  float advantage = 0;
  std::vector<float> logp_old, logp_ref;  // over the completion tokens
};

const std::vector<std::string> kCurveColumns = {"step", "reward", "accuracy", "format", "length", "kl", "eval_accuracy"};

}  // namespace

GrpoResult run_grpo(Network& policy, Network* reference, const std::string& tokenizer_json,
                    const std::string& tokenizer_config_json, const GrpoOptions& o,
                    const std::function<void(const std::string&)>& log) {
  if (o.tasks.empty()) fail("--task: no task given");
  if (o.steps < 1 || o.prompts < 1 || o.group < 2 || o.mu < 1 || o.max_tokens < 1 || o.micro_batch < 1) {
    fail("grpo: steps, prompts, mu, max-tokens and micro-batch must be >= 1 and group >= 2");
  }
  if (o.kl_beta > 0 && reference == nullptr) fail("grpo: a KL penalty needs a reference model");
  if (o.policy_path.empty()) fail("grpo: no path to export the policy to");
  AdamW optimizer(policy, 0.9f, 0.99f, 1e-8f, o.weight_decay);
  int64_t start = 0;
  nlohmann::json rows = nlohmann::json::array();  // the curve rows so far (kept in the checkpoint)
  if (o.resume) {
    if (o.checkpoint.empty()) fail("--resume: no checkpoint path");
    std::string blob;
    start = load_checkpoint(o.checkpoint, policy, optimizer, blob);
    try {
      rows = nlohmann::json::parse(blob);
    } catch (const nlohmann::json::exception&) {
      fail("{}: not a GRPO checkpoint (its data blob is not the curve rows)", o.checkpoint);
    }
    log(fmt::format("resumed from {} at step {}", o.checkpoint, start));
  }
  auto save = [&](int64_t step) {
    if (!o.checkpoint.empty()) save_checkpoint(o.checkpoint, policy, optimizer, step, rows.dump());
  };
  auto write_rows = [&] {
    if (o.curves.empty()) return;
    std::vector<std::vector<double>> table;
    for (const auto& r : rows) {
      std::vector<double> row;
      for (const auto& v : r) row.push_back(v.is_null() ? NAN : v.get<double>());
      table.push_back(row);
    }
    write_curves(o.curves, kCurveColumns, table);
  };

  GrpoResult result;
  const auto t_start = std::chrono::steady_clock::now();
  const uint64_t sample_salt = mix64(o.seed ^ 0x6772706fULL);
  for (int64_t step = start; step < o.steps; ++step) {
    // 1. The current policy as the engine runs it.
    save_gguf(policy, tokenizer_json, tokenizer_config_json, o.policy_path);
    EnginePool engine(o.policy_path, o.threads);

    // 2. A group of completions per problem.
    std::vector<Problem> problems;
    std::vector<std::vector<int32_t>> prompts;
    std::vector<SampleRequest> requests;
    for (int64_t p = 0; p < o.prompts; ++p) {
      uint64_t index = static_cast<uint64_t>(step * o.prompts + p);
      Task task = o.tasks[index % o.tasks.size()];
      problems.push_back(make_problem(task, Split::Train, o.seed, index));
      prompts.push_back(prompt_tokens(engine.tokenizer(), engine.chat_template(), problems.back()));
      for (int32_t g = 0; g < o.group; ++g) {
        requests.push_back({prompts.back(), o.temperature, sample_salt + index * 1000003 + static_cast<uint64_t>(g)});
      }
    }
    std::vector<Generated> generated = engine.generate(requests, o.max_tokens);

    // 3. Rewards and group-relative advantages.
    std::vector<Sample> samples;
    double reward_sum = 0, correct = 0, formatted = 0, length = 0;
    for (size_t p = 0; p < problems.size(); ++p) {
      std::vector<float> rewards;
      for (int32_t g = 0; g < o.group; ++g) {
        const Generated& gen = generated[p * static_cast<size_t>(o.group) + static_cast<size_t>(g)];
        bool right = answer_correct(problems[p], gen.text), shaped = format_ok(gen.text);
        rewards.push_back(static_cast<float>(right) + o.format_weight * static_cast<float>(shaped));
        reward_sum += rewards.back();
        correct += right;
        formatted += shaped;
        length += static_cast<double>(gen.tokens.size());
      }
      std::vector<float> advantages = group_advantages(rewards);
      for (int32_t g = 0; g < o.group; ++g) {
        const Generated& gen = generated[p * static_cast<size_t>(o.group) + static_cast<size_t>(g)];
        if (advantages[static_cast<size_t>(g)] == 0.0f || gen.tokens.empty()) continue;
        Sample s;
        s.sequence = prompts[p];
        s.prompt_length = prompts[p].size();
        s.sequence.insert(s.sequence.end(), gen.tokens.begin(), gen.tokens.end());
        s.advantage = advantages[static_cast<size_t>(g)];
        samples.push_back(std::move(s));
      }
    }
    const double count = static_cast<double>(generated.size());

    // 4. mu updates of the clipped objective. logp index t predicts token t + 1, so the completion's
    // log-probabilities are t = prompt_length - 1 .. len - 2.
    double kl_sum = 0, nll_sum = 0;  // over the updated completions' tokens
    int64_t kl_tokens = 0;
    float grad_norm = 0;
    const float lr = cosine_lr(step, o.warmup, o.steps, o.lr, o.min_lr);
    for (int32_t iteration = 0; iteration < o.mu && !samples.empty(); ++iteration) {
      for (size_t begin = 0; begin < samples.size(); begin += static_cast<size_t>(o.micro_batch)) {
        size_t end = std::min(samples.size(), begin + static_cast<size_t>(o.micro_batch));
        std::vector<std::vector<int32_t>> batch;
        for (size_t i = begin; i < end; ++i) batch.push_back(samples[i].sequence);
        std::vector<std::vector<float>> logp = policy.forward(batch);
        std::vector<std::vector<float>> logp_ref;
        if (iteration == 0 && o.kl_beta > 0) logp_ref = reference->forward(batch);
        std::vector<std::vector<float>> coef(batch.size());
        for (size_t i = begin; i < end; ++i) {
          Sample& s = samples[i];
          const std::vector<float>& lp = logp[i - begin];
          std::vector<float> lp_new(lp.begin() + static_cast<long>(s.prompt_length) - 1, lp.end());
          if (iteration == 0) {
            s.logp_old = lp_new;
            s.logp_ref = o.kl_beta > 0 ? std::vector<float>(logp_ref[i - begin].begin() + static_cast<long>(s.prompt_length) - 1,
                                                            logp_ref[i - begin].end())
                                       : lp_new;
            for (size_t t = 0; t < lp_new.size(); ++t) {
              double d = static_cast<double>(s.logp_ref[t]) - lp_new[t];
              kl_sum += std::exp(d) - d - 1;
              nll_sum -= lp_new[t];
            }
            kl_tokens += static_cast<int64_t>(lp_new.size());
          }
          GrpoTokenTerms terms = grpo_token_terms(lp_new, s.logp_old, s.logp_ref, s.advantage, o.clip_eps, o.kl_beta);
          // The objective is the mean over all completions of the group batch.
          coef[i - begin].assign(lp.size(), 0.0f);
          for (size_t t = 0; t < terms.coef.size(); ++t) {
            coef[i - begin][s.prompt_length - 1 + t] = terms.coef[t] / static_cast<float>(count);
          }
        }
        policy.backward(coef, /*mtp_weight=*/0.0f);
        if (policy.config().is_deepseek2() && o.bias_rate > 0 && iteration == 0) policy.update_expert_bias(o.bias_rate);
      }
      grad_norm = policy.clip_grad_norm(o.clip_grad);
      optimizer.step(lr);
      policy.zero_grad();
    }

    // 5. Log, evaluate, checkpoint.
    result.last_reward = reward_sum / count;
    result.last_accuracy = correct / count;
    nlohmann::json row = {step + 1, result.last_reward, result.last_accuracy, formatted / count, length / count,
                          kl_tokens ? kl_sum / static_cast<double>(kl_tokens) : 0.0, nullptr};
    if (o.eval_every > 0 && ((step + 1) % o.eval_every == 0 || step + 1 == o.steps)) {
      save_gguf(policy, tokenizer_json, tokenizer_config_json, o.policy_path);
      EnginePool eval_engine(o.policy_path, o.threads);
      double accuracy = 0;
      for (Task task : o.tasks) {
        EvalOptions eo;
        eo.n = o.eval_n;
        eo.seed = o.seed;
        eo.threads = o.threads;
        eo.max_tokens = o.max_tokens;
        accuracy += evaluate(eval_engine, task, eo).greedy_accuracy;
      }
      row[6] = accuracy / static_cast<double>(o.tasks.size());
    }
    rows.push_back(row);
    ++result.steps_run;
    if ((step + 1) % o.log_every == 0 || step + 1 == o.steps || !row[6].is_null()) {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      std::string eval = row[6].is_null() ? "" : fmt::format(" held-out {:.3f}", row[6].get<double>());
      // kl and nll (the sampled tokens' mean negative log-likelihood under the policy) cover the updated
      // completions only.
      log(fmt::format("step {}/{} reward {:.3f} accuracy {:.3f} format {:.3f} length {:.1f} kl {:.4f} nll {:.3f} "
                      "grad_norm {:.3f} lr {:.2e} updated {}/{}{} time {:.1f}s",
                      step + 1, o.steps, result.last_reward, result.last_accuracy, formatted / count, length / count,
                      row[5].get<double>(), kl_tokens ? nll_sum / static_cast<double>(kl_tokens) : 0.0, grad_norm, lr,
                      samples.size(), generated.size(), eval, seconds));
    }
    bool stop = o.stop_after > 0 && result.steps_run >= o.stop_after;
    if ((o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0) || step + 1 == o.steps || stop) save(step + 1);
    if (step + 1 == o.steps) result.complete = true;
    if (stop) break;
  }
  if (start >= o.steps) result.complete = true;
  write_rows();
  std::error_code ec;
  std::filesystem::remove(o.policy_path, ec);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return result;
}

}  // namespace whale::train
