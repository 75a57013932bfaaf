// The engine pool and held-out evaluation. Each worker owns a model, a one-thread pool and a Session; jobs
// are handed out through an atomic counter and results land at their request index, so the output is the
// same whatever the thread count and timing.
#include "train/eval.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/thread_pool.h"
#include "runtime/session.h"
#include "train/chat_format.h"
#include "train/tasks_rng.h"

namespace whale::train {

struct EnginePool::Worker {
  std::unique_ptr<ThreadPool> pool;
  LoadedModel loaded;
};

EnginePool::EnginePool(const std::string& model_path, int threads) : path_(model_path) {
  if (threads < 1 || threads > 256) fail("--threads: expected 1 .. 256, got {}", threads);
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->pool = std::make_unique<ThreadPool>(1);
    LoadModelOptions options;
    options.pool = worker->pool.get();
    options.prefetch_with_progress = false;
    worker->loaded = load_model_from_path(model_path, options);
    if (!worker->loaded.chat_template) {
      fail("{}: the model has no chat template (tokenizer.chat_template); prompts are rendered with it", model_path);
    }
    if (worker->loaded.tokenizer.vocab_size() == 0) fail("{}: the model has no tokenizer", model_path);
    workers_.push_back(std::move(worker));
  }
}

EnginePool::~EnginePool() = default;

const Tokenizer& EnginePool::tokenizer() const { return workers_.front()->loaded.tokenizer; }
const ChatTemplate& EnginePool::chat_template() const { return *workers_.front()->loaded.chat_template; }

std::vector<Generated> EnginePool::generate(const std::vector<SampleRequest>& requests, int64_t max_tokens) {
  if (max_tokens < 1) fail("--max-tokens: expected at least 1, got {}", max_tokens);
  std::vector<Generated> out(requests.size());
  size_t longest = 0;
  for (const SampleRequest& r : requests) {
    WHALE_ASSERT(!r.prompt.empty());
    longest = std::max(longest, r.prompt.size());
  }
  const int64_t context = static_cast<int64_t>(longest) + max_tokens + 1;
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](Worker& worker) {
    try {
      Session session(*worker.loaded.model, worker.loaded.tokenizer, context);
      for (size_t i = next.fetch_add(1); i < requests.size(); i = next.fetch_add(1)) {
        session.reset();
        GenerationOptions options;
        options.max_tokens = max_tokens;
        options.sampling.temperature = requests[i].temperature;
        options.sampling.seed = requests[i].seed;
        GenerationResult result = session.generate(requests[i].prompt, options);
        out[i].tokens = std::move(result.tokens);
        out[i].text = std::move(result.text);
        out[i].finished = result.finish == FinishReason::Stop;
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(requests.size());
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers_.size(); ++w) threads.emplace_back(run, std::ref(*workers_[w]));
  run(*workers_[0]);
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return out;
}

int64_t reasoning_token_count(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens) {
  std::optional<int32_t> close = tokenizer.token_id("</think>");
  if (close) {
    auto it = std::find(tokens.begin(), tokens.end(), *close);
    if (it != tokens.end()) return static_cast<int64_t>(it - tokens.begin()) + 1;
  }
  int64_t n = static_cast<int64_t>(tokens.size());
  if (n > 0 && tokenizer.is_end_of_generation(tokens.back())) --n;
  return n;
}

EvalResult evaluate(EnginePool& engine, Task task, const EvalOptions& options) {
  if (options.n < 1 || options.n > 1000000) fail("--n: expected 1 .. 1000000, got {}", options.n);
  if (options.samples < 0 || options.samples > 1000) fail("--samples: expected 0 .. 1000, got {}", options.samples);
  std::vector<Problem> problems;
  std::vector<SampleRequest> requests;
  const size_t per_problem = 1 + static_cast<size_t>(options.samples);
  for (int64_t i = 0; i < options.n; ++i) {
    problems.push_back(make_problem(task, Split::HeldOut, options.seed, static_cast<uint64_t>(i)));
    std::vector<int32_t> prompt = prompt_tokens(engine.tokenizer(), engine.chat_template(), problems.back());
    requests.push_back({prompt, 0.0f, 0});
    for (int32_t k = 0; k < options.samples; ++k) {
      uint64_t seed = mix64(mix64(options.seed ^ 0x6576616cULL) + static_cast<uint64_t>(i) * 1009 + static_cast<uint64_t>(k));
      requests.push_back({prompt, 1.0f, seed});
    }
  }
  std::vector<Generated> generated = engine.generate(requests, options.max_tokens);
  EvalResult result;
  result.n = options.n;
  int64_t greedy_right = 0, sample_right = 0, formatted = 0, reasoning_tokens = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    const Generated& greedy = generated[i * per_problem];
    greedy_right += answer_correct(problems[i], greedy.text);
    formatted += format_ok(greedy.text);
    reasoning_tokens += reasoning_token_count(engine.tokenizer(), greedy.tokens);
    for (size_t k = 1; k < per_problem; ++k) sample_right += answer_correct(problems[i], generated[i * per_problem + k].text);
  }
  const double n = static_cast<double>(options.n);
  result.greedy_accuracy = static_cast<double>(greedy_right) / n;
  result.format_rate = static_cast<double>(formatted) / n;
  result.mean_reasoning_tokens = static_cast<double>(reasoning_tokens) / n;
  if (options.samples > 0) result.pass1 = static_cast<double>(sample_right) / (n * options.samples);
  return result;
}

EvalResult evaluate(const std::string& model_path, Task task, const EvalOptions& options) {
  EnginePool engine(model_path, options.threads);
  return evaluate(engine, task, options);
}

EvalResult evaluate(const std::string& model_path, Task task, int64_t n, int32_t samples, uint64_t seed, int threads) {
  EvalOptions options;
  options.n = n;
  options.samples = samples;
  options.seed = seed;
  options.threads = threads;
  return evaluate(model_path, task, options);
}

}  // namespace whale::train
