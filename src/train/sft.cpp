// The supervised training loop (see sft.h).
#include "train/sft.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "train/curves.h"

namespace whale::train {
namespace {

const std::vector<std::string> kColumns = {"step", "loss", "mtp_loss", "lr", "grad_norm", "tokens_per_s"};

// The caller's state a checkpoint carries: the data fingerprint and the curve rows so far.
std::string encode_state(const std::string& fingerprint, const std::vector<std::vector<double>>& rows) {
  nlohmann::json j;
  j["data"] = fingerprint;
  j["rows"] = rows;
  return j.dump();
}

void decode_state(const std::string& path, const std::string& blob, const std::string& fingerprint,
                  std::vector<std::vector<double>>& rows) {
  nlohmann::json j = nlohmann::json::parse(blob, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_string() || !j.contains("rows") ||
      !j["rows"].is_array()) {
    fail("{}: key train.blob: not the state of `whale train` (expected a JSON object with data and rows)", path);
  }
  const std::string data = j["data"].get<std::string>();
  if (data != fingerprint) {
    fail(
        "{}: the checkpoint was written for the data stream '{}', but this run has '{}' (use the same flags to resume)",
        path, data, fingerprint);
  }
  rows.clear();
  for (const auto& row : j["rows"]) {
    if (!row.is_array() || row.size() != kColumns.size()) fail("{}: key train.blob: malformed curve row", path);
    std::vector<double> r;
    for (const auto& v : row) {
      if (!v.is_number()) fail("{}: key train.blob: malformed curve row", path);
      r.push_back(v.get<double>());
    }
    rows.push_back(std::move(r));
  }
}

}  // namespace

SftResult run_sft(Network& network, const BatchSource& batches, const SftOptions& o,
                  const std::function<void(const std::string&)>& log) {
  if (o.steps < 1) fail("--steps must be at least 1, got {}", o.steps);
  if (o.warmup < 0) fail("--warmup must be >= 0, got {}", o.warmup);
  if (!(o.lr > 0.0f) || !(o.min_lr >= 0.0f)) fail("--lr must be > 0 and the floor >= 0, got {} and {}", o.lr, o.min_lr);
  if (o.resume && o.checkpoint.empty()) fail("--resume needs --checkpoint PATH");
  AdamW optimizer(network, 0.9f, 0.95f, 1e-8f, o.weight_decay);
  std::vector<std::vector<double>> rows;
  int64_t start = 0;
  if (o.resume) {
    std::string blob;
    start = load_checkpoint(o.checkpoint, network, optimizer, blob);
    decode_state(o.checkpoint, blob, o.data_fingerprint, rows);
    log(fmt::format("resumed from {} at step {}", o.checkpoint, start));
  }
  const int64_t context = network.config().context_length;
  SftResult result;
  double window_seconds = 0.0;
  int64_t window_tokens = 0;
  auto save = [&](int64_t step) {
    if (!o.checkpoint.empty())
      save_checkpoint(o.checkpoint, network, optimizer, step, encode_state(o.data_fingerprint, rows));
    if (!o.curves.empty() && !rows.empty()) write_curves(o.curves, kColumns, rows);
  };
  for (int64_t step = start; step < o.steps; ++step) {
    const std::vector<Example> examples = batches(step);
    if (examples.empty()) fail("step {}: the batch is empty", step);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<int32_t>> batch;
    std::vector<std::vector<float>> coef;
    int64_t targets = 0;
    for (const Example& e : examples) {
      std::vector<int32_t> tokens = e.tokens;
      if (context > 0 && static_cast<int64_t>(tokens.size()) > context) tokens.resize(static_cast<size_t>(context));
      if (tokens.size() < 2) continue;
      std::vector<float> c(tokens.size() - 1, 0.0f);
      // logp[t] scores tokens[t + 1]: the completion starts at prompt_length.
      for (size_t t = e.prompt_length == 0 ? 0 : e.prompt_length - 1; t < c.size(); ++t) {
        c[t] = 1.0f;
        ++targets;
      }
      batch.push_back(std::move(tokens));
      coef.push_back(std::move(c));
    }
    if (targets == 0) fail("step {}: no completion tokens to train on", step);
    for (auto& c : coef) {
      for (float& v : c) v /= static_cast<float>(targets);
    }
    const auto logp = network.forward(batch);
    double loss = 0.0;
    int64_t tokens = 0;
    for (size_t s = 0; s < logp.size(); ++s) {
      tokens += static_cast<int64_t>(batch[s].size());
      for (size_t t = 0; t < logp[s].size(); ++t) loss -= static_cast<double>(coef[s][t]) * logp[s][t];
    }
    network.zero_grad();
    const float mtp_loss = network.backward(coef, o.mtp_weight);
    const float norm = network.clip_grad_norm(o.clip);
    network.update_expert_bias(o.bias_rate);
    const float lr = cosine_lr(step, o.warmup, o.steps, o.lr, o.min_lr);
    optimizer.step(lr);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!std::isfinite(loss)) fail("step {}: the loss is not finite ({}); lower --lr", step, loss);
    result.seconds += seconds;
    result.tokens += tokens;
    result.steps_run += 1;
    result.last_loss = static_cast<float>(loss);
    window_seconds += seconds;
    window_tokens += tokens;
    const bool stopping = o.stop_after > 0 && result.steps_run == o.stop_after;
    const bool last = step + 1 == o.steps || stopping;
    if ((step + 1) % std::max<int64_t>(o.log_every, 1) == 0 || last) {
      const double tps = window_seconds > 0 ? static_cast<double>(window_tokens) / window_seconds : 0.0;
      rows.push_back({static_cast<double>(step + 1), loss, mtp_loss, lr, norm, tps});
      log(fmt::format("step {}/{} loss {:.4f} mtp {:.4f} lr {:.2e} grad_norm {:.3f} tok/s {:.0f}", step + 1, o.steps,
                      loss, mtp_loss, lr, norm, tps));
      window_seconds = 0.0;
      window_tokens = 0;
    }
    if ((o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0) || last) save(step + 1);
    if (stopping) {
      log(fmt::format("stopped after {} steps at step {}; continue with --resume", result.steps_run, step + 1));
      break;
    }
  }
  if (result.steps_run == 0) log(fmt::format("nothing to do: the checkpoint is at step {} of {}", start, o.steps));
  return result;
}

}  // namespace whale::train
