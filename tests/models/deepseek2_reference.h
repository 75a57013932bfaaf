// A plain double-precision DeepSeek-V2/V3 forward pass written from the papers, for checking the model: the
// textbook (unabsorbed) MLA recomputed over the whole sequence, DeepSeekMoE routing by full sorts, DeepSeek's
// YaRN formulas, and the V3 MTP module. It reads the weights of a ModelSource (dequantized) and shares no
// code with src/models beyond the config struct.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <numeric>
#include <string>
#include <vector>

#include "formats/model_source.h"
#include "kernels/ref/quant.h"
#include "models/config.h"

namespace whale::test {

using Vec = std::vector<double>;

class Deepseek2Reference {
 public:
  Deepseek2Reference(const ModelSource& source, const ModelConfig& config) : src_(source), c_(config) {}

  // Logits [T][vocab] of every position and the final hidden states [T][hidden] (after output_norm).
  void forward(const std::vector<int32_t>& tokens, std::vector<Vec>& logits, std::vector<Vec>& hidden) {
    const int64_t main_layers = c_.block_count - c_.nextn_predict_layers;
    std::vector<Vec> x;
    for (int32_t t : tokens) x.push_back(row("token_embd.weight", t));
    for (int64_t l = 0; l < main_layers; ++l) block(l, x);
    logits.clear();
    hidden.clear();
    for (const Vec& xt : x) {
      hidden.push_back(rmsnorm(xt, w("output_norm.weight")));
      logits.push_back(matvec("output.weight", hidden.back()));
    }
  }

  // MTP: logits [T][vocab] predicting x_{t+2} from hidden[t] and next_tokens[t] = x_{t+1}.
  std::vector<Vec> mtp(const std::vector<Vec>& hidden, const std::vector<int32_t>& next_tokens) {
    const int64_t l = c_.block_count - c_.nextn_predict_layers;
    const std::string p = "blk." + std::to_string(l) + ".";
    std::vector<Vec> x;
    for (size_t t = 0; t < hidden.size(); ++t) {
      Vec e = rmsnorm(row("token_embd.weight", next_tokens[t]), w(p + "nextn.enorm.weight"));
      Vec h = rmsnorm(hidden[t], w(p + "nextn.hnorm.weight"));
      e.insert(e.end(), h.begin(), h.end());
      x.push_back(matvec(p + "nextn.eh_proj.weight", e));
    }
    block(l, x);
    const std::string norm = has(p + "nextn.shared_head_norm.weight") ? p + "nextn.shared_head_norm.weight"
                                                                        : "output_norm.weight";
    std::vector<Vec> out;
    for (const Vec& xt : x) out.push_back(matvec("output.weight", rmsnorm(xt, w(norm))));
    return out;
  }

 private:
  bool has(const std::string& name) const { return src_.find_tensor(name) != nullptr; }

  const Vec& w(const std::string& name) {
    auto it = cache_.find(name);
    if (it != cache_.end()) return it->second;
    const TensorView& t = src_.tensor(name);
    std::vector<float> f(static_cast<size_t>(t.elements()));
    ref::dequantize_row(t.dtype, t.data, f.data(), t.elements());
    return cache_.emplace(name, Vec(f.begin(), f.end())).first->second;
  }
  Vec row(const std::string& name, int64_t r) {
    const Vec& m = w(name);
    const int64_t cols = src_.tensor(name).shape.back();
    return Vec(m.begin() + r * cols, m.begin() + (r + 1) * cols);
  }
  // y = W x for a 2-D weight [rows, cols], or expert / head `e` of a 3-D one.
  Vec matvec(const std::string& name, const Vec& x, int64_t e = 0) {
    const Vec& m = w(name);
    const Shape& s = src_.tensor(name).shape;
    const int64_t rows = s[s.size() - 2], cols = s.back();
    Vec y(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const double* wr = m.data() + (e * rows + r) * cols;
      for (int64_t k = 0; k < cols; ++k) y[r] += wr[k] * x[k];
    }
    return y;
  }
  Vec rmsnorm(const Vec& x, const Vec& g) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / x.size() + c_.rms_norm_eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * g[i];
    return y;
  }
  static double silu(double v) { return v / (1.0 + std::exp(-v)); }

  // DeepSeek's YaRN: blended frequencies, and mscale(s, mscale_all_dim)^2 in the softmax scale.
  Vec frequencies() const {
    const int64_t d = c_.qk_rope_head_dim;
    const RopeConfig& r = c_.rope;
    const bool yarn = r.scaling == RopeScaling::Yarn;
    auto corr = [&](double rot) {
      return d * std::log(r.original_context_length / (rot * 2 * std::numbers::pi)) / (2 * std::log(r.theta));
    };
    double low = std::max(std::floor(corr(r.yarn_beta_fast)), 0.0);
    double high = std::min(std::ceil(corr(r.yarn_beta_slow)), static_cast<double>(d - 1));
    if (low == high) high += 0.001;
    Vec f;
    for (int64_t j = 0; j < d / 2; ++j) {
      const double extra = std::pow(r.theta, -2.0 * j / d);
      if (!yarn) {
        f.push_back(extra);
        continue;
      }
      const double mask = 1.0 - std::clamp((j - low) / (high - low), 0.0, 1.0);
      f.push_back(extra / r.factor * (1 - mask) + extra * mask);
    }
    return f;
  }
  double softmax_scale() const {
    double m = 1.0;
    if (c_.rope.scaling == RopeScaling::Yarn && c_.rope.factor > 1) {
      m = 0.1 * (c_.rope.yarn_log_multiplier / 0.1) * std::log(c_.rope.factor) + 1.0;
    }
    return m * m / std::sqrt(static_cast<double>(c_.qk_nope_head_dim + c_.qk_rope_head_dim));
  }
  void rope(double* v, int64_t pos, const Vec& freq) const {
    for (size_t j = 0; j < freq.size(); ++j) {
      const double a = v[2 * j], b = v[2 * j + 1], angle = pos * freq[j];
      v[2 * j] = a * std::cos(angle) - b * std::sin(angle);
      v[2 * j + 1] = a * std::sin(angle) + b * std::cos(angle);
    }
  }

  // W_uk of head h as [nope][rank] and W_uv as [v][rank], from either layout.
  double uk(const std::string& p, int64_t h, int64_t d, int64_t r) {
    const int64_t nope = c_.qk_nope_head_dim, v = c_.v_head_dim, rank = c_.kv_lora_rank;
    if (has(p + "attn_k_b.weight")) return w(p + "attn_k_b.weight")[(h * rank + r) * nope + d];
    return w(p + "attn_kv_b.weight")[(h * (nope + v) + d) * rank + r];
  }
  double uv(const std::string& p, int64_t h, int64_t j, int64_t r) {
    const int64_t nope = c_.qk_nope_head_dim, v = c_.v_head_dim, rank = c_.kv_lora_rank;
    if (has(p + "attn_v_b.weight")) return w(p + "attn_v_b.weight")[(h * v + j) * rank + r];
    return w(p + "attn_kv_b.weight")[(h * (nope + v) + nope + j) * rank + r];
  }

  void block(int64_t l, std::vector<Vec>& x) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const int64_t T = static_cast<int64_t>(x.size());
    const int64_t H = c_.head_count, nope = c_.qk_nope_head_dim, rp = c_.qk_rope_head_dim, qk = nope + rp;
    const int64_t rank = c_.kv_lora_rank, dv = c_.v_head_dim;
    const Vec freq = frequencies();
    // Keys and values of every position, expanded per head.
    std::vector<Vec> q(T), k(T), v(T);
    for (int64_t t = 0; t < T; ++t) {
      const Vec xn = rmsnorm(x[t], w(p + "attn_norm.weight"));
      q[t] = c_.q_lora_rank > 0 ? matvec(p + "attn_q_b.weight",
                                         rmsnorm(matvec(p + "attn_q_a.weight", xn), w(p + "attn_q_a_norm.weight")))
                                : matvec(p + "attn_q.weight", xn);
      for (int64_t h = 0; h < H; ++h) rope(q[t].data() + h * qk + nope, t, freq);
      Vec kva = matvec(p + "attn_kv_a_mqa.weight", xn);
      const Vec ckv = rmsnorm(Vec(kva.begin(), kva.begin() + rank), w(p + "attn_kv_a_norm.weight"));
      Vec k_pe(kva.begin() + rank, kva.end());
      rope(k_pe.data(), t, freq);
      k[t].assign(static_cast<size_t>(H * qk), 0.0);
      v[t].assign(static_cast<size_t>(H * dv), 0.0);
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t d = 0; d < nope; ++d) {
          for (int64_t r = 0; r < rank; ++r) k[t][h * qk + d] += uk(p, h, d, r) * ckv[r];
        }
        for (int64_t d = 0; d < rp; ++d) k[t][h * qk + nope + d] = k_pe[d];
        for (int64_t j = 0; j < dv; ++j) {
          for (int64_t r = 0; r < rank; ++r) v[t][h * dv + j] += uv(p, h, j, r) * ckv[r];
        }
      }
    }
    const double scale = softmax_scale();
    for (int64_t t = 0; t < T; ++t) {
      Vec o(static_cast<size_t>(H * dv), 0.0);
      for (int64_t h = 0; h < H; ++h) {
        Vec s(static_cast<size_t>(t + 1));
        for (int64_t u = 0; u <= t; ++u) {
          double dot = 0;
          for (int64_t d = 0; d < qk; ++d) dot += q[t][h * qk + d] * k[u][h * qk + d];
          s[u] = dot * scale;
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double z = 0;
        for (double& e : s) z += (e = std::exp(e - mx));
        for (int64_t u = 0; u <= t; ++u) {
          for (int64_t j = 0; j < dv; ++j) o[h * dv + j] += s[u] / z * v[u][h * dv + j];
        }
      }
      const Vec attn = matvec(p + "attn_output.weight", o);
      for (size_t i = 0; i < attn.size(); ++i) x[t][i] += attn[i];
    }
    for (int64_t t = 0; t < T; ++t) {
      const Vec xn = rmsnorm(x[t], w(p + "ffn_norm.weight"));
      const Vec y = l < c_.leading_dense_block_count ? ffn(p + "ffn_gate.weight", p + "ffn_up.weight",
                                                           p + "ffn_down.weight", xn, 0)
                                                     : moe(p, xn);
      for (size_t i = 0; i < y.size(); ++i) x[t][i] += y[i];
    }
  }

  Vec ffn(const std::string& gate, const std::string& up, const std::string& down, const Vec& x, int64_t e) {
    Vec g = matvec(gate, x, e);
    const Vec u = matvec(up, x, e);
    for (size_t i = 0; i < g.size(); ++i) g[i] = silu(g[i]) * u[i];
    return matvec(down, g, e);
  }

  Vec moe(const std::string& p, const Vec& x) {
    const int64_t n = c_.expert_count, groups = std::max<int64_t>(c_.expert_group_count, 1);
    const Vec logits = matvec(p + "ffn_gate_inp.weight", x);
    Vec prob(static_cast<size_t>(n));
    if (c_.expert_gating_func == ExpertGating::Sigmoid) {
      for (int64_t i = 0; i < n; ++i) prob[i] = 1.0 / (1.0 + std::exp(-logits[i]));
    } else {
      const double mx = *std::max_element(logits.begin(), logits.end());
      double z = 0;
      for (int64_t i = 0; i < n; ++i) z += (prob[i] = std::exp(logits[i] - mx));
      for (double& v : prob) v /= z;
    }
    Vec sel = prob;
    if (has(p + "exp_probs_b.bias")) {
      for (int64_t i = 0; i < n; ++i) sel[i] += w(p + "exp_probs_b.bias")[i];
    }
    std::vector<bool> allowed(static_cast<size_t>(n), true);
    if (groups > 1) {
      const int64_t gs = n / groups;
      Vec score(static_cast<size_t>(groups));
      for (int64_t g = 0; g < groups; ++g) {
        Vec s(sel.begin() + g * gs, sel.begin() + (g + 1) * gs);
        std::sort(s.begin(), s.end(), std::greater<>());
        score[g] = s[0] + (gs > 1 ? s[1] : 0.0);
      }
      std::vector<int64_t> order(static_cast<size_t>(groups));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
      for (int64_t i = 0; i < n; ++i) {
        allowed[i] = std::find(order.begin(), order.begin() + c_.expert_group_used_count, i / gs) !=
                     order.begin() + c_.expert_group_used_count;
      }
    }
    std::vector<int64_t> order;
    for (int64_t i = 0; i < n; ++i)
      if (allowed[i]) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return sel[a] > sel[b]; });
    order.resize(static_cast<size_t>(c_.experts_per_token));
    double sum = 0;
    for (int64_t e : order) sum += prob[e];
    Vec y(x.size(), 0.0);
    for (int64_t e : order) {
      const double weight = (c_.expert_weights_norm ? prob[e] / sum : prob[e]) * c_.expert_weights_scale;
      const Vec out = ffn(p + "ffn_gate_exps.weight", p + "ffn_up_exps.weight", p + "ffn_down_exps.weight", x, e);
      for (size_t i = 0; i < y.size(); ++i) y[i] += weight * out[i];
    }
    if (c_.expert_shared_count > 0) {
      const Vec s = ffn(p + "ffn_gate_shexp.weight", p + "ffn_up_shexp.weight", p + "ffn_down_shexp.weight", x, 0);
      for (size_t i = 0; i < y.size(); ++i) y[i] += s[i];
    }
    return y;
  }

  const ModelSource& src_;
  ModelConfig c_;
  std::map<std::string, Vec> cache_;
};

}  // namespace whale::test
