// The dense families (llama, qwen2, qwen3) against a plain double-precision transformer written here from
// the model definitions, on tiny random models; plus chunked prefill vs token-by-token decode, tied
// embeddings and the errors for bad files.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/thread_pool.h"
#include "model_test_util.h"

namespace whale {
namespace {

using Values = std::map<std::string, std::vector<float>>;

std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<float>& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * inv * w[i];
  return out;
}

// y = W x (+ b), W {out, in} row-major.
std::vector<double> linear(const std::vector<float>& w, const std::vector<double>& x,
                           const std::vector<float>* b = nullptr) {
  const size_t in = x.size(), out = w.size() / in;
  std::vector<double> y(out);
  for (size_t r = 0; r < out; ++r) {
    double s = b != nullptr ? (*b)[r] : 0.0;
    for (size_t c = 0; c < in; ++c) s += static_cast<double>(w[r * in + c]) * x[c];
    y[r] = s;
  }
  return y;
}

// Rotates one head of `dims` values at `pos`. Interleaved pairs for llama (GGUF's permuted q/k), halves
// (rotate_half) for qwen. Llama-3 frequencies divided by rope_freqs.
void rope(double* x, int64_t dims, int64_t pos, const ModelConfig& c, const Values& v) {
  const int64_t half = dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    double freq = std::pow(c.rope.theta, -2.0 * static_cast<double>(i) / static_cast<double>(dims));
    if (v.count("rope_freqs.weight")) freq /= v.at("rope_freqs.weight")[i];
    const double a = static_cast<double>(pos) * freq;
    const int64_t p = c.rope.type == RopeType::Normal ? 2 * i : i;
    const int64_t q = c.rope.type == RopeType::Normal ? 2 * i + 1 : i + half;
    const double x0 = x[p], x1 = x[q];
    x[p] = x0 * std::cos(a) - x1 * std::sin(a);
    x[q] = x0 * std::sin(a) + x1 * std::cos(a);
  }
}

// Logits of every position of `tokens`.
std::vector<std::vector<double>> reference_forward(const ModelConfig& c, const Values& v,
                                                   const std::vector<int32_t>& tokens) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t hd = c.key_length, H = c.head_count, KV = c.head_count_kv;
  std::vector<std::vector<double>> x(n);
  for (int64_t t = 0; t < n; ++t) {
    const auto& e = v.at("token_embd.weight");
    x[t].assign(e.begin() + tokens[t] * c.hidden_size, e.begin() + (tokens[t] + 1) * c.hidden_size);
  }
  auto layer = [&](int64_t l, const char* s) -> const std::vector<float>& {
    return v.at("blk." + std::to_string(l) + "." + s);
  };
  auto has = [&](int64_t l, const char* s) { return v.count("blk." + std::to_string(l) + "." + s) > 0; };
  for (int64_t l = 0; l < c.block_count; ++l) {
    std::vector<std::vector<double>> q(n), k(n), val(n);
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> h = rmsnorm(x[t], layer(l, "attn_norm.weight"), c.rms_norm_eps);
      const bool bias = has(l, "attn_q.bias");
      q[t] = linear(layer(l, "attn_q.weight"), h, bias ? &layer(l, "attn_q.bias") : nullptr);
      k[t] = linear(layer(l, "attn_k.weight"), h, bias ? &layer(l, "attn_k.bias") : nullptr);
      val[t] = linear(layer(l, "attn_v.weight"), h, bias ? &layer(l, "attn_v.bias") : nullptr);
      for (int64_t head = 0; head < H; ++head) {
        if (has(l, "attn_q_norm.weight")) {
          std::vector<double> part(q[t].begin() + head * hd, q[t].begin() + (head + 1) * hd);
          part = rmsnorm(part, layer(l, "attn_q_norm.weight"), c.rms_norm_eps);
          std::copy(part.begin(), part.end(), q[t].begin() + head * hd);
        }
        rope(q[t].data() + head * hd, hd, t, c, v);
      }
      for (int64_t head = 0; head < KV; ++head) {
        if (has(l, "attn_k_norm.weight")) {
          std::vector<double> part(k[t].begin() + head * hd, k[t].begin() + (head + 1) * hd);
          part = rmsnorm(part, layer(l, "attn_k_norm.weight"), c.rms_norm_eps);
          std::copy(part.begin(), part.end(), k[t].begin() + head * hd);
        }
        rope(k[t].data() + head * hd, hd, t, c, v);
      }
    }
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> att(static_cast<size_t>(H * hd));
      for (int64_t head = 0; head < H; ++head) {
        const int64_t g = head / (H / KV);
        std::vector<double> p(static_cast<size_t>(t + 1));
        double max = -1e300, sum = 0;
        for (int64_t j = 0; j <= t; ++j) {
          double d = 0;
          for (int64_t i = 0; i < hd; ++i) d += q[t][head * hd + i] * k[j][g * hd + i];
          p[j] = d / std::sqrt(static_cast<double>(hd));
          max = std::max(max, p[j]);
        }
        for (double& e : p) sum += (e = std::exp(e - max));
        for (int64_t i = 0; i < hd; ++i) {
          double o = 0;
          for (int64_t j = 0; j <= t; ++j) o += p[j] / sum * val[j][g * hd + i];
          att[head * hd + i] = o;
        }
      }
      std::vector<double> o = linear(layer(l, "attn_output.weight"), att);
      for (size_t i = 0; i < o.size(); ++i) x[t][i] += o[i];
      std::vector<double> h = rmsnorm(x[t], layer(l, "ffn_norm.weight"), c.rms_norm_eps);
      std::vector<double> g = linear(layer(l, "ffn_gate.weight"), h), u = linear(layer(l, "ffn_up.weight"), h);
      for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      std::vector<double> d = linear(layer(l, "ffn_down.weight"), g);
      for (size_t i = 0; i < d.size(); ++i) x[t][i] += d[i];
    }
  }
  std::vector<std::vector<double>> logits(n);
  const auto& out = v.count("output.weight") ? v.at("output.weight") : v.at("token_embd.weight");
  for (int64_t t = 0; t < n; ++t) logits[t] = linear(out, rmsnorm(x[t], v.at("output_norm.weight"), c.rms_norm_eps));
  return logits;
}

const std::vector<int32_t> kTokens = {1, 77, 200, 3, 3, 150, 42, 9, 255, 0, 128};

struct DenseCase {
  const char* arch;
  DType type;
  bool tied;
  double tolerance;  // max |whale - reference| / max |reference|
};

class DenseModelTest : public ::testing::TestWithParam<DenseCase> {};

TEST_P(DenseModelTest, MatchesDoublePrecisionReference) {
  const DenseCase p = GetParam();
  ModelConfig config = test::tiny_dense_config(p.arch);
  std::string name = std::string(p.arch) + "-" + std::string(dtype_name(p.type)) + (p.tied ? "-tied" : "");
  test::RandomModel file = test::write_random_gguf(config, p.type, 7, name, p.tied);
  ThreadPool pool(2);
  LoadOptions options;
  options.pool = &pool;
  std::unique_ptr<Model> model = load_model(test::open_source(file.path), options);
  EXPECT_EQ(model->config().arch, p.arch);
  const int64_t vocab = model->config().vocab_size;
  std::unique_ptr<KvCache> cache = model->create_cache(64);
  std::vector<float> logits(kTokens.size() * vocab);
  model->forward(kTokens, 0, *cache, logits);
  EXPECT_EQ(cache->length(), static_cast<int64_t>(kTokens.size()));
  std::vector<std::vector<double>> want = reference_forward(config, file.values, kTokens);
  double max_ref = 0, max_diff = 0;
  for (size_t t = 0; t < kTokens.size(); ++t) {
    for (int64_t i = 0; i < vocab; ++i) {
      max_ref = std::max(max_ref, std::fabs(want[t][i]));
      max_diff = std::max(max_diff, std::fabs(want[t][i] - logits[t * vocab + i]));
    }
  }
  EXPECT_GT(max_ref, 1.0);  // the logits are not degenerate
  EXPECT_LT(max_diff / max_ref, p.tolerance) << "max abs diff " << max_diff;
}

INSTANTIATE_TEST_SUITE_P(Families, DenseModelTest,
                         ::testing::Values(DenseCase{"llama", DType::F32, false, 1e-5},
                                           DenseCase{"qwen2", DType::F32, true, 1e-5},
                                           DenseCase{"qwen3", DType::F32, false, 1e-5},
                                           DenseCase{"qwen2", DType::F16, false, 1e-5},
                                           DenseCase{"llama", DType::BF16, true, 1e-5},
                                           // Q8_0 activations are quantized too (as llama.cpp does).
                                           DenseCase{"qwen3", DType::Q8_0, false, 3e-2}),
                         [](const auto& param_info) {
                           return std::string(param_info.param.arch) + "_" +
                                  std::string(dtype_name(param_info.param.type)) +
                                  (param_info.param.tied ? "_tied" : "");
                         });

TEST(DenseModel, ChunkedPrefillAndDecodeMatchOneShot) {
  ModelConfig config = test::tiny_dense_config("qwen2");
  test::RandomModel file = test::write_random_gguf(config, DType::F32, 3, "qwen2-chunks");
  ThreadPool pool(3);
  LoadOptions one_shot{&pool, 64};
  LoadOptions chunked{&pool, 3};
  auto a = load_model(test::open_source(file.path), one_shot);
  auto b = load_model(test::open_source(file.path), chunked);
  const int64_t vocab = config.vocab_size;
  auto cache_a = a->create_cache(32), cache_b = b->create_cache(32);
  std::vector<float> all(kTokens.size() * vocab), last(vocab);
  a->forward(kTokens, 0, *cache_a, all);
  // b: first 7 tokens in chunks of 3 (last logits only), then one at a time.
  b->forward(std::span(kTokens).first(7), 0, *cache_b, last);
  for (int64_t i = 0; i < vocab; ++i) ASSERT_NEAR(last[i], all[6 * vocab + i], 1e-4);
  for (size_t t = 7; t < kTokens.size(); ++t) {
    b->forward(std::span(kTokens).subspan(t, 1), static_cast<int64_t>(t), *cache_b, last);
    for (int64_t i = 0; i < vocab; ++i) ASSERT_NEAR(last[i], all[t * vocab + i], 1e-4) << "t=" << t;
  }
  // Rewinding: recompute the last token from position 10 after truncating.
  cache_b->truncate(10);
  b->forward(std::span(kTokens).subspan(10, 1), 10, *cache_b, last);
  for (int64_t i = 0; i < vocab; ++i) ASSERT_NEAR(last[i], all[10 * vocab + i], 1e-4);
  // layers * (k + v) * kv heads * head dim * sizeof(f32)
  EXPECT_EQ(a->kv_bytes_per_token(), static_cast<size_t>(2 * 2 * (2 * 16) * 4));
}

TEST(DenseModel, ContextOverflowAndBadTokensAreErrors) {
  ModelConfig config = test::tiny_dense_config("qwen3");
  test::RandomModel file = test::write_random_gguf(config, DType::F32, 3, "qwen3-errors");
  ThreadPool pool(1);
  auto model = load_model(test::open_source(file.path), LoadOptions{&pool, 16});
  auto cache = model->create_cache(4);
  std::vector<float> logits(config.vocab_size);
  try {
    model->forward(kTokens, 0, *cache, logits);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context size is 4"), std::string::npos) << e.what();
  }
  const std::vector<int32_t> bad = {1, 999};
  EXPECT_THROW(model->forward(bad, 0, *cache, logits), Error);
}

// Rewrites a model without one tensor, or with one tensor of the wrong shape.
std::string write_broken(const std::string& name, const std::string& drop, const std::string& reshape) {
  ModelConfig config = test::tiny_dense_config("qwen2");
  gguf::Writer w;
  write_model_config(config, w.metadata());
  for (const TensorSpec& spec : tensor_specs(config)) {
    if (!spec.required || spec.name == drop) continue;
    Shape shape = spec.shape;
    if (spec.name == reshape) shape.back() += 1;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    w.add_tensor(spec.name, DType::F32, shape, std::vector<uint8_t>(static_cast<size_t>(n) * 4, 0));
  }
  std::string path = test::temp_dir() + "/" + name + ".gguf";
  w.write(path);
  return path;
}

TEST(DenseModel, MissingOrMisShapedTensorsNameTheTensor) {
  ThreadPool pool(1);
  auto expect_error = [&](const std::string& path, const std::string& needle) {
    try {
      load_model(test::open_source(path), LoadOptions{&pool, 8});
      FAIL() << "expected an error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(write_broken("missing", "blk.1.ffn_up.weight", ""), "tensor blk.1.ffn_up.weight: missing");
  expect_error(write_broken("misshaped", "", "blk.0.attn_k.weight"),
               "tensor blk.0.attn_k.weight: expected shape [32, 64], got [32, 65]");
}

TEST(ModelConfig, ParsesLlamaCppKeysAndRejectsBadValues) {
  ModelConfig c = test::tiny_dense_config("qwen3");
  gguf::Metadata m("x.gguf");
  write_model_config(c, m);
  ModelConfig back = parse_model_config(m);
  EXPECT_EQ(back.arch, "qwen3");
  EXPECT_EQ(back.hidden_size, 64);
  EXPECT_EQ(back.head_count_kv, 2);
  EXPECT_EQ(back.key_length, 32);
  EXPECT_EQ(back.rope.type, RopeType::Neox);
  EXPECT_FLOAT_EQ(back.rms_norm_eps, 1e-5f);
  m.set_uint32("qwen3.attention.head_count_kv", 3);
  try {
    parse_model_config(m);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.gguf: key qwen3.attention.head_count_kv"), std::string::npos) << e.what();
  }
  gguf::Metadata empty("y.gguf");
  EXPECT_THROW(parse_model_config(empty), Error);
}

TEST(ModelRegistry, UnknownArchitectureListsSupported) {
  ModelConfig c = test::tiny_dense_config("qwen2");
  c.arch = "gpt2";
  try {
    tensor_specs(c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("llama, qwen2, qwen3, deepseek2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace whale
