// Batched forward passes and KV row export, for every architecture family: several sequences in one
// forward() must give the logits each gives alone, whatever their lengths, positions and the pass size; rows
// read out of one cache and written into another must make the second cache continue exactly as the first.
//
// At the scalar and AVX2 levels the kernels compute every (row, token) product the same way however many tokens
// share a call, so batching is bit-exact there. At AVX-512, calls of 4 or more tokens take the repacked
// prefill kernel, whose float sums associate differently from the one-token kernel's: there the logits agree
// to rounding (and the greedy token is the same).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "core/thread_pool.h"
#include "kernels/isa.h"
#include "models/deepseek2_fixture.h"
#include "models/model_test_util.h"

namespace whale {
namespace {

std::vector<int32_t> random_tokens(std::mt19937& rng, size_t n, int64_t vocab) {
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> v(n);
  for (auto& t : v) t = pick(rng);
  return v;
}

// Runs a mixed step (two decoding sequences, one prefilling with every-token logits, one prefill chunk
// without logits) batched and then one sequence at a time on fresh caches, and compares.
void expect_batch_matches_alone(Model& batched, Model& alone) {
  const int64_t vocab = batched.config().vocab_size;
  std::mt19937 rng(11);
  const std::vector<size_t> history = {5, 9, 0, 3};  // tokens already in each cache
  const std::vector<size_t> fresh = {1, 1, 6, 4};    // tokens of this step
  const std::vector<bool> every = {false, false, true, false};
  const std::vector<bool> wants = {true, true, true, false};
  std::vector<std::vector<int32_t>> past, now;
  for (size_t i = 0; i < history.size(); ++i) {
    past.push_back(random_tokens(rng, history[i], vocab));
    now.push_back(random_tokens(rng, fresh[i], vocab));
  }
  auto run = [&](Model& model, bool together) {
    std::vector<std::unique_ptr<KvCache>> caches;
    std::vector<std::vector<float>> logits;
    std::vector<SequenceBatch> step;
    for (size_t i = 0; i < history.size(); ++i) {
      caches.push_back(model.create_cache(32));
      if (!past[i].empty()) model.forward(past[i], 0, *caches[i], {});
      logits.emplace_back(wants[i] ? (every[i] ? fresh[i] : 1) * static_cast<size_t>(vocab) : 0);
      step.push_back({now[i], static_cast<int64_t>(history[i]), caches[i].get(), logits[i]});
    }
    if (together) {
      model.forward(step);
    } else {
      for (const SequenceBatch& one : step) model.forward(std::span<const SequenceBatch>(&one, 1));
    }
    for (size_t i = 0; i < history.size(); ++i) EXPECT_EQ(caches[i]->length(), static_cast<int64_t>(history[i] + fresh[i]));
    return logits;
  };
  const auto a = run(batched, true);
  const auto b = run(alone, false);
  const bool exact = kernels::active_isa() != kernels::Isa::Avx512;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].size(), b[i].size());
    if (a[i].empty()) continue;  // a sequence that asked for no logits
    if (exact) {
      EXPECT_EQ(0, std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float))) << "sequence " << i;
      continue;
    }
    for (size_t row = 0; row < a[i].size(); row += static_cast<size_t>(vocab)) {
      const auto first_a = a[i].begin() + static_cast<ptrdiff_t>(row);
      const auto first_b = b[i].begin() + static_cast<ptrdiff_t>(row);
      float worst = 0.0f;
      for (int64_t v = 0; v < vocab; ++v) worst = std::max(worst, std::fabs(first_a[v] - first_b[v]));
      EXPECT_LT(worst, 1e-3f) << "sequence " << i;
      EXPECT_EQ(std::max_element(first_a, first_a + vocab) - first_a, std::max_element(first_b, first_b + vocab) - first_b)
          << "sequence " << i;
    }
  }
}

// Runs `body` at every kernel level the CPU has, restoring the level after.
template <class Body>
void at_every_isa(Body body) {
  const kernels::Isa initial = kernels::active_isa();
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::set_isa(isa)) continue;
    SCOPED_TRACE(kernels::isa_name(isa));
    body();
  }
  kernels::set_isa(initial);
}

// Computes a prompt in one cache, copies its rows into a second cache, and checks the next token's logits.
void expect_rows_transfer(Model& model) {
  const int64_t vocab = model.config().vocab_size;
  std::mt19937 rng(5);
  const auto prompt = random_tokens(rng, 12, vocab);
  auto source = model.create_cache(32), copy = model.create_cache(32);
  model.forward(std::span(prompt).first(11), 0, *source, {});
  const size_t row = source->row_bytes();
  ASSERT_GT(row, 0u);
  std::vector<std::byte> rows(11 * row);
  source->read_rows(0, 4, std::span(rows).first(4 * row));
  source->read_rows(4, 7, std::span(rows).subspan(4 * row));
  copy->write_rows(0, std::span<const std::byte>(rows).first(4 * row));
  copy->write_rows(4, std::span<const std::byte>(rows).subspan(4 * row));
  EXPECT_EQ(copy->length(), 11);
  std::vector<float> expected(vocab), got(vocab);
  model.forward(std::span(prompt).subspan(11), 11, *source, expected);
  model.forward(std::span(prompt).subspan(11), 11, *copy, got);
  EXPECT_EQ(0, std::memcmp(expected.data(), got.data(), expected.size() * sizeof(float)));
}

TEST(BatchedForward, DenseSequencesTogetherEqualAlone) {
  for (const char* arch : {"qwen2", "llama"}) {
    SCOPED_TRACE(arch);
    ModelConfig config = test::tiny_dense_config(arch);
    test::RandomModel file = test::write_random_gguf(config, DType::Q8_0, 4, std::string("batched-") + arch);
    ThreadPool pool(2);
    // A pass of 5 rows: the 12-token step is cut into three passes, one sequence crossing a pass boundary.
    auto batched = load_model(test::open_source(file.path), LoadOptions{&pool, 5});
    auto alone = load_model(test::open_source(file.path), LoadOptions{&pool, 64});
    at_every_isa([&] { expect_batch_matches_alone(*batched, *alone); });
    expect_rows_transfer(*alone);
  }
}

TEST(BatchedForward, Deepseek2SequencesTogetherEqualAlone) {
  for (const char* preset : {"tiny-v3", "tiny-v2-lite"}) {
    SCOPED_TRACE(preset);
    const ModelConfig config = test::tiny_config(preset);
    test::TinyDeepseek2 batched(config, DType::Q8_0, 2, 5, 7, "-batched");
    test::TinyDeepseek2 alone(config, DType::Q8_0, 2, 64, 7, "-alone");
    at_every_isa([&] { expect_batch_matches_alone(*batched.model, *alone.model); });
    expect_rows_transfer(*alone.model);
  }
}

TEST(BatchedForward, Deepseek2UnabsorbedSequencesTogetherEqualAlone) {
  const ModelConfig config = test::tiny_config("tiny-v3");
  test::TinyDeepseek2 batched(config, DType::F32, 2, 5, 7, "-batched-u");
  test::TinyDeepseek2 alone(config, DType::F32, 2, 64, 7, "-alone-u");
  batched.model->set_mla_mode(MlaMode::Unabsorbed);
  alone.model->set_mla_mode(MlaMode::Unabsorbed);
  at_every_isa([&] { expect_batch_matches_alone(*batched.model, *alone.model); });
}

}  // namespace
}  // namespace whale
