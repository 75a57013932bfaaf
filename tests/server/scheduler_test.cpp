// Scheduler over the toy model: batched, chunked, cached and cancelled runs must give exactly what one
// sequence run alone on a fresh cache gives (the reference below drives the model directly).
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>

#include "runtime/prefix_cache.h"
#include "server/toy_engine.h"

namespace whale {
namespace {

using server::ToyModel;
using server::ToyOptions;
namespace toy_token = server::toy_token;

ToyOptions noise_model(int delay_ms = 0) {
  ToyOptions o;
  o.script = false;  // output depends on the hash of the whole sequence
  o.step_delay = std::chrono::milliseconds(delay_ms);
  return o;
}

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Greedy continuation computed on a fresh cache, one token per forward call.
std::vector<int32_t> reference_greedy(const std::vector<int32_t>& prompt, int n) {
  ToyModel model(noise_model());
  auto cache = model.create_cache(4096);
  std::vector<float> logits(toy_token::kVocab);
  model.forward(prompt, 0, *cache, logits);
  std::vector<int32_t> out;
  while (static_cast<int>(out.size()) < n) {
    out.push_back(argmax(logits));
    model.forward(std::span<const int32_t>(&out.back(), 1), cache->length(), *cache, logits);
  }
  return out;
}

std::vector<int32_t> text_prompt(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

struct Collected {
  std::vector<int32_t> tokens;
  std::vector<GenerationEvent> token_events;
  int64_t prompt_tokens = -1;
  int64_t cached_tokens = -1;
  StopReason finish = StopReason::Error;
  bool finished = false;
};

Collected collect(GenerationHandle& handle) {
  Collected c;
  GenerationEvent e;
  for (int i = 0; i < 100000 && !c.finished; ++i) {
    if (!handle.next(e, std::chrono::seconds(10))) break;  // a hung scheduler fails the test, not the run
    if (e.kind == GenerationEvent::Kind::Started) {
      c.prompt_tokens = e.prompt_tokens;
      c.cached_tokens = e.cached_tokens;
    } else if (e.kind == GenerationEvent::Kind::Token) {
      c.tokens.push_back(e.token);
      c.token_events.push_back(e);
    } else {
      c.finish = e.finish;
      c.finished = true;
    }
  }
  return c;
}

GenerationRequest greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

TEST(Scheduler, BatchedAndChunkedRunsMatchSingleSequence) {
  ToyModel model(noise_model());
  SchedulerOptions options;
  options.parallel = 3;
  options.prefill_chunk = 5;
  options.step_token_budget = 8;
  Scheduler scheduler(model, options);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 7; ++i)
    prompts.push_back(text_prompt(std::string(static_cast<size_t>(1 + 4 * i), static_cast<char>('a' + i))));
  std::vector<std::shared_ptr<GenerationHandle>> handles;
  for (const auto& p : prompts) handles.push_back(scheduler.submit(greedy(p, 12)));
  for (size_t i = 0; i < prompts.size(); ++i) {
    Collected c = collect(*handles[i]);
    ASSERT_TRUE(c.finished) << i;
    EXPECT_EQ(c.finish, StopReason::Length);
    EXPECT_EQ(c.prompt_tokens, static_cast<int64_t>(prompts[i].size()));
    EXPECT_EQ(c.tokens, reference_greedy(prompts[i], 12)) << "request " << i;
  }
  EXPECT_EQ(scheduler.stats().queued, 0u);
}

TEST(Scheduler, ReusesTheLongestCachedPrefix) {
  ToyModel model(noise_model());
  SchedulerOptions options;
  options.parallel = 1;
  Scheduler scheduler(model, options);
  std::string system(20, 's');
  auto a = text_prompt(system + "question one");
  auto b = text_prompt(system + "another question");
  Collected first = collect(*scheduler.submit(greedy(a, 6)));
  EXPECT_EQ(first.cached_tokens, 0);
  Collected second = collect(*scheduler.submit(greedy(b, 6)));
  EXPECT_EQ(second.cached_tokens, 20);  // the shared system prefix
  EXPECT_EQ(second.tokens, reference_greedy(b, 6));
  Collected again = collect(*scheduler.submit(greedy(b, 6)));
  // All but the last prompt token, which is fed again for its logits.
  EXPECT_EQ(again.cached_tokens, static_cast<int64_t>(b.size()) - 1);
  EXPECT_EQ(again.tokens, second.tokens);
}

TEST(Scheduler, KeepsComputedPrefixesAfterTheSlotMovesOn) {
  const std::string system(40, 's');
  auto a = text_prompt(system + "question one");
  auto b = text_prompt(system + "another question");
  auto unrelated = text_prompt(std::string(30, 'u'));
  for (size_t store_bytes : {size_t{0}, size_t{1} << 20}) {
    ToyModel model(noise_model());
    SchedulerOptions options;
    options.parallel = 1;
    options.prefix_cache_bytes = store_bytes;
    options.prefix_block_tokens = 8;
    Scheduler scheduler(model, options);
    // The only slot computes the system prompt, then an unrelated prompt overwrites it: only the shared
    // store still has the system prompt when b arrives.
    EXPECT_EQ(collect(*scheduler.submit(greedy(a, 4))).cached_tokens, 0);
    EXPECT_EQ(collect(*scheduler.submit(greedy(unrelated, 4))).cached_tokens, 0);
    Collected second = collect(*scheduler.submit(greedy(b, 6)));
    EXPECT_EQ(second.cached_tokens, store_bytes > 0 ? 40 : 0);  // the system prompt, in whole blocks of 8
    EXPECT_EQ(second.tokens, reference_greedy(b, 6));
    EXPECT_EQ(scheduler.stats().cached_blocks > 0, store_bytes > 0);
  }
}

TEST(Scheduler, CacheDirKeepsPrefixesAcrossARestart) {
  const std::string dir = ::testing::TempDir() + "/whale-scheduler-cache-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  SchedulerOptions options;
  options.parallel = 1;
  options.prefix_cache_bytes = 1 << 20;
  options.prefix_block_tokens = 8;
  options.cache_dir = dir;
  options.model_fingerprint = 7;
  auto prompt = text_prompt(std::string(50, 'p') + "?");
  std::vector<int32_t> before;
  {
    ToyModel model(noise_model());
    Scheduler scheduler(model, options);
    Collected c = collect(*scheduler.submit(greedy(prompt, 5)));
    EXPECT_EQ(c.cached_tokens, 0);
    before = c.tokens;
    scheduler.flush_cache_dir();
    EXPECT_GT(scheduler.stats().disk_blocks_written, 0u);
  }
  ToyModel model(noise_model());
  Scheduler scheduler(model, options);
  EXPECT_GT(scheduler.disk_load().loaded, 0u);
  Collected c = collect(*scheduler.submit(greedy(prompt, 5)));
  EXPECT_EQ(c.cached_tokens, 48);
  EXPECT_EQ(c.tokens, before);
  std::filesystem::remove_all(dir);
}

TEST(Scheduler, CancelStopsWithinAStepAndFreesTheSlot) {
  ToyModel model(noise_model(2));
  SchedulerOptions options;
  options.parallel = 1;
  Scheduler scheduler(model, options);
  auto handle = scheduler.submit(greedy(text_prompt("long"), 100000));
  GenerationEvent e;
  int tokens = 0;
  for (int i = 0; i < 1000 && tokens < 3; ++i)
    if (handle->next(e, std::chrono::seconds(10)) && e.kind == GenerationEvent::Kind::Token) ++tokens;
  ASSERT_EQ(tokens, 3);
  uint64_t steps_at_cancel = scheduler.stats().steps;
  handle->cancel();
  Collected rest = collect(*handle);
  ASSERT_TRUE(rest.finished);
  EXPECT_EQ(rest.finish, StopReason::Cancelled);
  // Only the step already running when cancel() was called may complete.
  EXPECT_LE(scheduler.stats().steps - steps_at_cancel, 1u);
  Collected next = collect(*scheduler.submit(greedy(text_prompt("next"), 4)));
  EXPECT_EQ(next.tokens, reference_greedy(text_prompt("next"), 4));
  EXPECT_EQ(scheduler.stats().running, 0u);
}

TEST(Scheduler, RefusesWhenTheQueueIsFull) {
  ToyModel model(noise_model(20));
  SchedulerOptions options;
  options.parallel = 1;
  options.max_queue = 1;
  Scheduler scheduler(model, options);
  std::vector<std::shared_ptr<GenerationHandle>> handles;
  bool refused = false;
  for (int i = 0; i < 4 && !refused; ++i) {
    try {
      handles.push_back(scheduler.submit(greedy(text_prompt("x"), 100000)));
    } catch (const QueueFullError&) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_LE(handles.size(), 2u + 1u);
  for (auto& h : handles) h->cancel();
}

TEST(Scheduler, DrainFinishesAdmittedRequestsAndRefusesNewOnes) {
  ToyModel model(noise_model(2));
  SchedulerOptions options;
  options.parallel = 1;
  Scheduler scheduler(model, options);
  auto running = scheduler.submit(greedy(text_prompt("first"), 20));
  auto queued = scheduler.submit(greedy(text_prompt("second"), 5));
  std::atomic<bool> drained{false};
  std::thread drainer([&] { drained = scheduler.drain(std::chrono::steady_clock::now() + std::chrono::seconds(30)); });
  // Give the drain time to begin: submissions are then refused, whatever else happens.
  while (true) {
    try {
      auto extra = scheduler.submit(greedy(text_prompt("late"), 1));
      collect(*extra);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("shutting down"), std::string::npos) << e.what();
      break;
    }
  }
  Collected first = collect(*running), second = collect(*queued);
  drainer.join();
  EXPECT_TRUE(drained.load());
  EXPECT_EQ(first.finish, StopReason::Length);
  EXPECT_EQ(first.tokens, reference_greedy(text_prompt("first"), 20));
  EXPECT_EQ(second.finish, StopReason::Length);
  EXPECT_EQ(second.tokens, reference_greedy(text_prompt("second"), 5));
}

TEST(Scheduler, DrainGivesUpAtItsDeadlineOrWhenInterrupted) {
  ToyModel model(noise_model(2));
  SchedulerOptions options;
  options.parallel = 1;
  Scheduler scheduler(model, options);
  auto endless = scheduler.submit(greedy(text_prompt("endless"), 100000));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(scheduler.drain(start + std::chrono::milliseconds(100)));
  EXPECT_FALSE(scheduler.drain(start + std::chrono::hours(1), [] { return true; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  scheduler.stop();
  Collected rest = collect(*endless);
  EXPECT_TRUE(rest.finished);
  EXPECT_EQ(rest.finish, StopReason::Cancelled);
}

TEST(Scheduler, ValidatesPromptsAndStopsAtTheContext) {
  ToyModel model(noise_model());
  SchedulerOptions options;
  options.context_length = 16;
  Scheduler scheduler(model, options);
  try {
    scheduler.submit(greedy(text_prompt(std::string(20, 'x')), 4));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("by 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(scheduler.submit(greedy({}, 4)), Error);
  EXPECT_THROW(scheduler.submit(greedy({toy_token::kVocab}, 4)), Error);
  // 10 prompt tokens in a context of 16: the 7th generated token is sampled from position 15's logits.
  Collected c = collect(*scheduler.submit(greedy(text_prompt(std::string(10, 'y')), 100)));
  EXPECT_EQ(c.finish, StopReason::Length);
  EXPECT_EQ(c.tokens.size(), 7u);
}

TEST(Scheduler, SeededSamplingIsReproducibleUnderLoad) {
  ToyModel model(noise_model());
  SchedulerOptions options;
  options.parallel = 4;
  Scheduler scheduler(model, options);
  auto sampled = [](uint64_t seed) {
    GenerationRequest r;
    r.prompt = text_prompt("seeded");
    r.max_tokens = 16;
    r.sampling.temperature = 1.0f;
    r.sampling.top_p = 0.9f;
    r.sampling.has_seed = true;
    r.sampling.seed = seed;
    return r;
  };
  auto h1 = scheduler.submit(sampled(42));
  auto h2 = scheduler.submit(greedy(text_prompt("other traffic"), 16));
  auto h3 = scheduler.submit(sampled(43));
  Collected a = collect(*h1);
  collect(*h2);
  Collected c = collect(*h3);
  Collected b = collect(*scheduler.submit(sampled(42)));
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, c.tokens);
  EXPECT_EQ(a.tokens.size(), 16u);
}

TEST(Scheduler, LogprobsAreTheModelsLogSoftmax) {
  ToyModel model(noise_model());
  SchedulerOptions options;
  Scheduler scheduler(model, options);
  GenerationRequest r = greedy(text_prompt("logprobs"), 1);
  r.sampling.top_logprobs = 3;
  Collected c = collect(*scheduler.submit(r));
  ASSERT_EQ(c.token_events.size(), 1u);
  // Independent: softmax of the reference model's logits in double precision.
  ToyModel ref(noise_model());
  auto cache = ref.create_cache(64);
  std::vector<float> logits(toy_token::kVocab);
  ref.forward(r.prompt, 0, *cache, logits);
  double z = 0.0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  const GenerationEvent& e = c.token_events[0];
  EXPECT_EQ(e.token, argmax(logits));
  EXPECT_NEAR(e.logprob, std::log(std::exp(static_cast<double>(logits[static_cast<size_t>(e.token)])) / z), 1e-4);
  ASSERT_EQ(e.top_logprobs.size(), 3u);
  EXPECT_EQ(e.top_logprobs[0].token, e.token);
  EXPECT_GE(e.top_logprobs[0].logprob, e.top_logprobs[1].logprob);
  EXPECT_GE(e.top_logprobs[1].logprob, e.top_logprobs[2].logprob);
}

TEST(PrefixCache, PicksLongestMatchThenLeastRecentlyUsed) {
  PrefixCache cache(3);
  std::vector<int32_t> a{1, 2, 3, 4}, b{1, 2, 9};
  cache.append(0, a);
  cache.touch(0);
  cache.append(1, b);
  cache.touch(1);
  std::vector<int32_t> all{0, 1, 2};
  std::vector<int32_t> prompt{1, 2, 3, 7};
  EXPECT_EQ(cache.find(prompt, all).slot, 0);
  EXPECT_EQ(cache.find(prompt, all).matched, 3);
  std::vector<int32_t> unrelated{5};
  EXPECT_EQ(cache.find(unrelated, all).slot, 2);  // never used: coldest
  std::vector<int32_t> busy{0, 1};
  cache.touch(0);
  EXPECT_EQ(cache.find(unrelated, busy).slot, 1);
  cache.truncate(0, 2);
  EXPECT_EQ(cache.find(prompt, std::vector<int32_t>{0}).matched, 2);
  EXPECT_EQ(common_prefix_length(a, b), 2);
}

}  // namespace
}  // namespace whale
