// Scheduler: continuous batching over one model. One inference thread owns every sequence and every KV cache;
// other threads (HTTP workers) submit requests through a bounded queue and read each request's events from
// its GenerationHandle. Up to `parallel` sequences run together: each step is one Model::forward over all
// running sequences, new requests join between steps, and long prompts are prefilled in chunks so that
// running streams keep producing tokens. Prompts start from the longest prefix already computed, in the
// slot's own cache or in the shared context cache (PrefixStore). A cancelled handle (client gone, stop string seen) is dropped at
// the start of the next step and its slot freed.
//
// The scheduler works on token ids only: detokenizing, stop strings and reasoning splitting belong to the
// consumer, which cancels the handle when it has what it wants.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "models/model.h"
#include "runtime/prefix_cache.h"
#include "runtime/prefix_disk.h"
#include "runtime/prefix_store.h"
#include "runtime/sampler.h"
#include "runtime/token_constraint.h"

namespace whale {

// A request's sampling settings as the API gives them; runtime/sampler does the sampling. The penalties look
// at the tokens generated so far (not the prompt).
struct SamplingParams {
  float temperature = 1.0f;        // 0 = greedy
  float top_p = 1.0f;              // nucleus mass kept (0, 1]
  float presence_penalty = 0.0f;   // subtracted once from the logit of every token already generated
  float frequency_penalty = 0.0f;  // subtracted per occurrence of a generated token
  bool has_seed = false;           // else a random seed
  uint64_t seed = 0;
  int32_t top_logprobs = 0;  // alternatives reported per token (0 .. 20)
};

struct GenerationRequest {
  std::vector<int32_t> prompt;  // non-empty
  int64_t max_tokens = 256;     // generated tokens at most (>= 1)
  SamplingParams sampling;
  std::shared_ptr<TokenConstraint> constraint;  // optional rule on the tokens (response_format json_object)
};

// Why a scheduled sequence ended. (Session's StopReason covers one CLI generation; this adds the cases
// only a server has.)
enum class StopReason { Stop, Length, Cancelled, Error };
const char* stop_reason_name(StopReason reason);  // "stop", "length", "cancelled", "error"

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;  // natural log of the model's probability (before temperature and penalties)
};

struct GenerationEvent {
  enum class Kind { Started, Token, Finished };
  Kind kind = Kind::Started;
  // Started: the request got a slot.
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens whose KV was reused from the prefix cache
  // Token: one generated token (end-of-generation tokens are not reported).
  int32_t token = -1;
  float logprob = 0.0f;
  std::vector<TokenLogprob> top_logprobs;
  // Finished.
  StopReason finish = StopReason::Stop;
  std::string error;
};

// The consumer's side of one request. Thread-safe.
class GenerationHandle {
 public:
  // Waits up to `timeout` for the next event; false on timeout.
  bool next(GenerationEvent& out, std::chrono::milliseconds timeout);
  // Asks the scheduler to stop this request; it finishes with StopReason::Cancelled at the next step.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class Scheduler;
  void push(GenerationEvent event);

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<GenerationEvent> events_;
  std::atomic<bool> cancelled_{false};
};

// Thrown by submit() when the waiting queue is full (HTTP 429).
class QueueFullError : public Error {
 public:
  using Error::Error;
};

struct SchedulerOptions {
  int32_t parallel = 1;             // sequences decoded together (one KV cache each)
  int64_t context_length = 4096;    // tokens per sequence (prompt + generated)
  int64_t prefill_chunk = 256;      // prompt tokens a sequence feeds per step
  int64_t step_token_budget = 512;  // tokens per forward step over all sequences (decode tokens first)
  size_t max_queue = 64;            // waiting requests before submit() refuses
  std::vector<int32_t> end_tokens;  // tokens that end generation (EOS, end of turn)
  // The shared context cache (runtime/prefix_store.h): KV bytes kept in memory (0: off), and with a folder,
  // on disk too (runtime/prefix_disk.h), for the model of that fingerprint.
  size_t prefix_cache_bytes = 0;
  int64_t prefix_block_tokens = 16;
  std::string cache_dir;
  uint64_t model_fingerprint = 0;
  uint64_t cache_dir_max_bytes = 8ull << 30;
};

struct SchedulerStats {
  size_t queued = 0;
  size_t running = 0;
  uint64_t steps = 0;
  size_t cached_blocks = 0;  // context-cache blocks in memory
  size_t cached_bytes = 0;
  uint64_t disk_blocks_written = 0;
};

class Scheduler {
 public:
  Scheduler(Model& model, SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  const SchedulerOptions& options() const { return options_; }
  // Queues a request. Throws whale::Error for an empty prompt or one that leaves no room to generate in the
  // context, QueueFullError when max_queue requests already wait.
  std::shared_ptr<GenerationHandle> submit(GenerationRequest request);
  SchedulerStats stats() const;
  // What was read back from --cache-dir at start (all zero without one).
  const PrefixDiskLoad& disk_load() const { return disk_load_; }
  // Waits until the context cache's queued disk writes are done (tests, shutdown).
  void flush_cache_dir();
  // Graceful shutdown, first half: from now on submit() refuses (whale::Error, "shutting down"), while
  // everything already submitted runs on. Returns true once all of it has finished, false if `deadline`
  // comes first (or `interrupted` returns true when polled, every 20 ms). Call stop() after either way.
  bool drain(std::chrono::steady_clock::time_point deadline, const std::function<bool()>& interrupted = {});
  // Ends the inference thread; running and queued requests finish with StopReason::Cancelled.
  void stop();

 private:
  struct Pending {
    GenerationRequest request;
    std::shared_ptr<GenerationHandle> handle;
  };
  struct Sequence;

  void run();
  void release_finished();  // drops cancelled and finished sequences, freeing their slots
  void admit();
  bool step();
  void finish(Sequence& seq, StopReason reason, const std::string& error = {});
  void finish_waiting(GenerationHandle& handle);  // a request that never ran: Finished, Cancelled
  int32_t sample(Sequence& seq, std::span<float> logits, GenerationEvent& event);
  void remember_prefix(const Sequence& seq);  // into the shared context cache
  void publish_cache_stats();

  Model& model_;
  SchedulerOptions options_;
  int64_t vocab_size_ = 0;
  std::vector<std::unique_ptr<KvCache>> caches_;  // one per slot
  PrefixCache prefix_cache_;                // what each slot's cache holds
  std::unique_ptr<PrefixDisk> prefix_disk_;  // before the store, which writes through it
  std::unique_ptr<PrefixStore> prefix_store_;
  PrefixDiskLoad disk_load_;
  std::atomic<size_t> cached_blocks_{0}, cached_bytes_{0};
  std::vector<std::unique_ptr<Sequence>> running_;  // at most `parallel`
  std::vector<int32_t> free_slots_;

  // Step buffers, sized once.
  std::vector<SequenceBatch> batch_;
  std::vector<Sequence*> batch_owner_;
  std::vector<float> logits_;      // parallel x vocab
  std::vector<int32_t> order_;     // vocab: candidate indices for top-logprobs
  std::vector<float> raw_logits_;  // vocab: logits before the sampler rewrites them

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_ready_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool draining_ = false;
  std::atomic<size_t> running_count_{0};
  std::atomic<size_t> unfinished_{0};  // submitted requests whose Finished event is not sent yet
  std::atomic<uint64_t> steps_{0};
  std::thread thread_;
};

}  // namespace whale
