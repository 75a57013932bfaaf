// AdamW (Loshchilov & Hutter, decoupled weight decay) and the warmup + cosine learning-rate schedule.
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "train/network.h"

namespace whale::train {

AdamW::AdamW(Network& network, float beta1, float beta2, float eps, float weight_decay)
    : network_(&network), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay) {
  for (const Parameter& p : network.parameters()) {
    m_.emplace_back(p.value.size(), 0.0f);
    v_.emplace_back(p.value.size(), 0.0f);
  }
}

void AdamW::step(float lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1_), static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2_), static_cast<double>(t_));
  const auto step_size = static_cast<float>(lr / bc1);
  const auto inv_bc2_sqrt = static_cast<float>(1.0 / std::sqrt(bc2));
  std::vector<Parameter>& params = network_->parameters();
  WHALE_ASSERT(params.size() == m_.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Parameter& p = params[i];
    if (!p.trainable) continue;
    float* w = p.value.data();
    const float* g = p.grad.data();
    float* m = m_[i].data();
    float* v = v_[i].data();
    const float decay = p.decay ? 1.0f - lr * weight_decay_ : 1.0f;
    for (size_t j = 0; j < p.value.size(); ++j) {
      m[j] = beta1_ * m[j] + (1.0f - beta1_) * g[j];
      v[j] = beta2_ * v[j] + (1.0f - beta2_) * g[j] * g[j];
      w[j] = w[j] * decay - step_size * m[j] / (std::sqrt(v[j]) * inv_bc2_sqrt + eps_);
    }
  }
}

float cosine_lr(int64_t step, int64_t warmup, int64_t total, float peak, float floor) {
  if (warmup > 0 && step < warmup) return peak * static_cast<float>(step + 1) / static_cast<float>(warmup);
  if (step >= total) return floor;
  const double span = static_cast<double>(std::max<int64_t>(total - warmup, 1));
  const double progress = static_cast<double>(step - warmup) / span;
  return floor + (peak - floor) * static_cast<float>(0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
}

}  // namespace whale::train
