// Scheduler: the inference thread's loop (admit waiting requests into free slots, build one batch, forward,
// sample, report) and the thread-safe hand-off to consumers. See scheduler.h.
#include "runtime/scheduler.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/log.h"

namespace whale {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::Stop:
      return "stop";
    case StopReason::Length:
      return "length";
    case StopReason::Cancelled:
      return "cancelled";
    case StopReason::Error:
      return "error";
  }
  return "error";
}

bool GenerationHandle::next(GenerationEvent& out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  out = std::move(events_.front());
  events_.pop_front();
  return true;
}

void GenerationHandle::push(GenerationEvent event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  ready_.notify_all();
}

struct Scheduler::Sequence {
  GenerationRequest request;
  std::shared_ptr<GenerationHandle> handle;
  int32_t slot = -1;
  int64_t fed = 0;  // prompt tokens whose KV is in the cache (reused or prefilled)
  int64_t generated = 0;
  int32_t last_token = -1;  // sampled, reported, not yet fed
  bool done = false;
  std::unique_ptr<Sampler> sampler;
  std::vector<int32_t> generated_tokens;  // reserved for max_tokens at admission: the penalties' history
};

Scheduler::Scheduler(Model& model, SchedulerOptions options)
    : model_(model), options_(std::move(options)), prefix_cache_(std::max<int32_t>(options_.parallel, 1)) {
  if (options_.parallel < 1) fail("--parallel: expected at least 1, got {}", options_.parallel);
  if (options_.context_length < 2) fail("--ctx: expected at least 2 tokens, got {}", options_.context_length);
  vocab_size_ = model_.config().vocab_size;
  WHALE_ASSERT(vocab_size_ > 0);
  options_.prefill_chunk = std::max<int64_t>(options_.prefill_chunk, 1);
  options_.step_token_budget = std::max<int64_t>(options_.step_token_budget, options_.parallel);
  for (int32_t slot = 0; slot < options_.parallel; ++slot) {
    caches_.push_back(model_.create_cache(options_.context_length));
    free_slots_.push_back(options_.parallel - 1 - slot);  // popped from the back: slot 0 first
  }
  if (options_.prefix_cache_bytes > 0) {
    const size_t row_bytes = caches_.front()->row_bytes();
    if (!options_.cache_dir.empty()) {
      prefix_disk_ = std::make_unique<PrefixDisk>(PrefixDiskOptions{options_.cache_dir, options_.model_fingerprint,
                                                                    row_bytes, options_.prefix_block_tokens,
                                                                    options_.cache_dir_max_bytes});
    }
    prefix_store_ = std::make_unique<PrefixStore>(
        PrefixStoreOptions{row_bytes, options_.prefix_block_tokens, options_.prefix_cache_bytes}, prefix_disk_.get());
    if (prefix_disk_) {
      disk_load_ = prefix_disk_->load_into(*prefix_store_);
      log(LogLevel::Info, "cache: {} blocks of cached prefixes loaded from {} ({} damaged files ignored, {} unused)",
          disk_load_.loaded, prefix_disk_->folder(), disk_load_.damaged, disk_load_.orphaned);
    }
    publish_cache_stats();
  }
  batch_.reserve(static_cast<size_t>(options_.parallel));
  batch_owner_.reserve(static_cast<size_t>(options_.parallel));
  logits_.resize(static_cast<size_t>(options_.parallel) * static_cast<size_t>(vocab_size_));
  order_.resize(static_cast<size_t>(vocab_size_));
  raw_logits_.resize(static_cast<size_t>(vocab_size_));
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() { stop(); }

std::shared_ptr<GenerationHandle> Scheduler::submit(GenerationRequest request) {
  if (request.prompt.empty()) fail("prompt: expected at least one token");
  auto prompt_tokens = static_cast<int64_t>(request.prompt.size());
  if (prompt_tokens > options_.context_length)
    fail("prompt: {} tokens exceed the context of {} tokens by {}", prompt_tokens, options_.context_length,
         prompt_tokens - options_.context_length);
  for (int32_t token : request.prompt)
    if (token < 0 || token >= vocab_size_) fail("prompt: token {} outside the vocabulary of {}", token, vocab_size_);
  request.max_tokens = std::max<int64_t>(request.max_tokens, 1);
  auto handle = std::make_shared<GenerationHandle>();
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_ || draining_) fail("the server is shutting down");
    // Requests that will get a free slot at the next step do not count as waiting.
    size_t idle = static_cast<size_t>(options_.parallel) - std::min<size_t>(running_count_.load(), options_.parallel);
    if (queue_.size() >= options_.max_queue + idle)
      throw QueueFullError(fmt::format("the queue is full ({} requests waiting)", queue_.size()));
    queue_.push_back({std::move(request), handle});
    unfinished_.fetch_add(1);
  }
  queue_ready_.notify_one();
  return handle;
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s;
  {
    std::lock_guard lock(queue_mutex_);
    s.queued = queue_.size();
  }
  s.running = running_count_.load();
  s.steps = steps_.load();
  s.cached_blocks = cached_blocks_.load();
  s.cached_bytes = cached_bytes_.load();
  if (prefix_disk_) s.disk_blocks_written = prefix_disk_->written();
  return s;
}

void Scheduler::flush_cache_dir() {
  if (prefix_disk_) prefix_disk_->flush();
}

void Scheduler::publish_cache_stats() {
  const PrefixStoreStats st = prefix_store_->stats();
  cached_blocks_.store(st.blocks);
  cached_bytes_.store(st.bytes);
}

bool Scheduler::drain(std::chrono::steady_clock::time_point deadline, const std::function<bool()>& interrupted) {
  {
    std::lock_guard lock(queue_mutex_);
    draining_ = true;
  }
  while (unfinished_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline || (interrupted && interrupted())) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void Scheduler::stop() {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  queue_ready_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::run() {
  for (;;) {
    {
      std::lock_guard lock(queue_mutex_);
      if (stopping_) break;
    }
    admit();
    if (!step()) {
      std::unique_lock lock(queue_mutex_);
      queue_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    }
  }
  for (auto& seq : running_) finish(*seq, StopReason::Cancelled);
  running_.clear();
  std::deque<Pending> left;
  {
    std::lock_guard lock(queue_mutex_);
    left.swap(queue_);
  }
  for (auto& pending : left) finish_waiting(*pending.handle);
}

void Scheduler::finish_waiting(GenerationHandle& handle) {
  unfinished_.fetch_sub(1);
  GenerationEvent event;
  event.kind = GenerationEvent::Kind::Finished;
  event.finish = StopReason::Cancelled;
  handle.push(std::move(event));
}

void Scheduler::release_finished() {
  for (auto& seq : running_)
    if (seq->handle->cancelled()) finish(*seq, StopReason::Cancelled);
  for (auto it = running_.begin(); it != running_.end();) {
    if ((*it)->done) {
      free_slots_.push_back((*it)->slot);
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
}

void Scheduler::admit() {
  release_finished();
  while (!free_slots_.empty()) {
    Pending pending;
    {
      std::lock_guard lock(queue_mutex_);
      if (queue_.empty()) return;
      pending = std::move(queue_.front());
      queue_.pop_front();
    }
    if (pending.handle->cancelled()) {
      finish_waiting(*pending.handle);
      continue;
    }
    auto seq = std::make_unique<Sequence>();
    seq->request = std::move(pending.request);
    seq->handle = std::move(pending.handle);
    const auto& prompt = seq->request.prompt;
    PrefixMatch match = prefix_cache_.find(prompt, free_slots_);
    // The last prompt token is always fed again: its logits pick the first generated token.
    const int64_t limit = static_cast<int64_t>(prompt.size()) - 1;
    int64_t keep = std::min<int64_t>(match.matched, limit);
    seq->slot = match.slot;
    free_slots_.erase(std::find(free_slots_.begin(), free_slots_.end(), match.slot));
    KvCache& cache = *caches_[static_cast<size_t>(seq->slot)];
    cache.truncate(keep);
    prefix_cache_.truncate(seq->slot, keep);
    prefix_cache_.touch(seq->slot);
    // The shared context cache may hold more of the prompt than the slot does.
    if (prefix_store_) {
      const int64_t stored = prefix_store_->match(prompt, limit);
      if (stored > keep) {
        prefix_store_->restore(prompt, keep, stored, cache);
        prefix_cache_.append(seq->slot, std::span(prompt).subspan(static_cast<size_t>(keep),
                                                                  static_cast<size_t>(stored - keep)));
        keep = stored;
      }
    }
    seq->fed = keep;
    const SamplingParams& p = seq->request.sampling;
    SamplerOptions sampler;
    sampler.temperature = p.temperature;
    sampler.top_p = p.top_p;
    sampler.presence_penalty = p.presence_penalty;
    sampler.frequency_penalty = p.frequency_penalty;
    sampler.penalty_last_n = -1;  // every generated token
    sampler.seed = p.has_seed ? p.seed : (static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}());
    seq->sampler = std::make_unique<Sampler>(sampler, vocab_size_);
    seq->generated_tokens.reserve(static_cast<size_t>(
        std::min<int64_t>(seq->request.max_tokens, options_.context_length - static_cast<int64_t>(prompt.size()) + 1)));
    GenerationEvent event;
    event.kind = GenerationEvent::Kind::Started;
    event.prompt_tokens = static_cast<int64_t>(prompt.size());
    event.cached_tokens = keep;
    seq->handle->push(std::move(event));
    running_.push_back(std::move(seq));
    running_count_.fetch_add(1);
  }
}

void Scheduler::finish(Sequence& seq, StopReason reason, const std::string& error) {
  if (seq.done) return;
  seq.done = true;
  // What the slot computed (prompt and answer) becomes shareable: the next turn of a conversation starts
  // with it.
  if (reason != StopReason::Error) remember_prefix(seq);
  running_count_.fetch_sub(1);  // before the event, so a consumer that sees the end sees the slot free
  unfinished_.fetch_sub(1);
  GenerationEvent event;
  event.kind = GenerationEvent::Kind::Finished;
  event.finish = reason;
  event.error = error;
  seq.handle->push(std::move(event));
}

bool Scheduler::step() {
  release_finished();
  if (running_.empty()) return false;

  batch_.clear();
  batch_owner_.clear();
  int64_t budget = options_.step_token_budget;
  auto logits_slice = [&](size_t index) {
    return std::span<float>(logits_.data() + index * static_cast<size_t>(vocab_size_),
                            static_cast<size_t>(vocab_size_));
  };
  // Decoding sequences first, one token each, so streams keep flowing while prompts prefill.
  for (auto& seq : running_) {
    if (seq->fed < static_cast<int64_t>(seq->request.prompt.size())) continue;
    KvCache& cache = *caches_[static_cast<size_t>(seq->slot)];
    batch_.push_back(
        {std::span<const int32_t>(&seq->last_token, 1), cache.length(), &cache, logits_slice(batch_.size())});
    batch_owner_.push_back(seq.get());
    --budget;
  }
  for (auto& seq : running_) {
    auto prompt_size = static_cast<int64_t>(seq->request.prompt.size());
    if (seq->fed >= prompt_size || budget <= 0) continue;
    int64_t n = std::min({options_.prefill_chunk, prompt_size - seq->fed, budget});
    bool last = seq->fed + n == prompt_size;
    KvCache& cache = *caches_[static_cast<size_t>(seq->slot)];
    batch_.push_back({std::span<const int32_t>(seq->request.prompt.data() + seq->fed, static_cast<size_t>(n)), seq->fed,
                      &cache, last ? logits_slice(batch_.size()) : std::span<float>()});
    batch_owner_.push_back(seq.get());
    budget -= n;
  }

  try {
    model_.forward(batch_);
  } catch (const std::exception& e) {
    log(LogLevel::Error, "scheduler: forward failed: {}", e.what());
    for (size_t i = 0; i < batch_.size(); ++i) {
      Sequence& seq = *batch_owner_[i];
      caches_[static_cast<size_t>(seq.slot)]->clear();
      prefix_cache_.truncate(seq.slot, 0);
      finish(seq, StopReason::Error, e.what());
    }
    return true;
  }
  steps_.fetch_add(1);

  for (size_t i = 0; i < batch_.size(); ++i) {
    Sequence& seq = *batch_owner_[i];
    const SequenceBatch& entry = batch_[i];
    prefix_cache_.append(seq.slot, entry.tokens);
    const auto prompt_size = static_cast<int64_t>(seq.request.prompt.size());
    if (seq.fed < prompt_size) {
      seq.fed += static_cast<int64_t>(entry.tokens.size());
      if (seq.fed == prompt_size) remember_prefix(seq);  // concurrent requests with this prompt can share it now
    }
    if (entry.logits.empty()) continue;
    GenerationEvent event;
    event.kind = GenerationEvent::Kind::Token;
    int32_t token = sample(seq, entry.logits, event);
    const auto& end = options_.end_tokens;
    if (std::find(end.begin(), end.end(), token) != end.end()) {
      finish(seq, StopReason::Stop);
      continue;
    }
    event.token = token;
    seq.last_token = token;
    ++seq.generated;
    seq.generated_tokens.push_back(token);
    seq.handle->push(std::move(event));
    const KvCache& cache = *caches_[static_cast<size_t>(seq.slot)];
    if (seq.generated >= seq.request.max_tokens || cache.length() >= cache.capacity()) finish(seq, StopReason::Length);
  }
  return true;
}

void Scheduler::remember_prefix(const Sequence& seq) {
  if (!prefix_store_ || seq.slot < 0) return;
  const KvCache& cache = *caches_[static_cast<size_t>(seq.slot)];
  prefix_store_->insert(prefix_cache_.tokens(seq.slot), cache.length(), cache);
  publish_cache_stats();
}

// Logprobs are the model's own distribution (before penalties and temperature); runtime/sampler picks the token.
int32_t Scheduler::sample(Sequence& seq, std::span<float> logits, GenerationEvent& event) {
  const auto vocab = static_cast<int32_t>(logits.size());
  float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max_logit));
  const float log_z = max_logit + static_cast<float>(std::log(sum));
  int32_t top = std::min(seq.request.sampling.top_logprobs, vocab);
  if (top > 0) {
    for (int32_t i = 0; i < vocab; ++i) order_[static_cast<size_t>(i)] = i;
    std::partial_sort(order_.begin(), order_.begin() + top, order_.begin() + vocab, [&](int32_t a, int32_t b) {
      return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
    });
    for (int32_t i = 0; i < top; ++i) {
      int32_t t = order_[static_cast<size_t>(i)];
      event.top_logprobs.push_back({t, logits[static_cast<size_t>(t)] - log_z});
    }
  }
  // The sampler rewrites the logits in place, so the chosen token's logprob needs the value from before.
  std::copy(logits.begin(), logits.end(), raw_logits_.begin());
  TokenConstraint* constraint = seq.request.constraint.get();
  if (constraint != nullptr) constraint->restrict(logits);
  int32_t chosen = seq.sampler->sample(logits, seq.generated_tokens);
  if (constraint != nullptr) constraint->accept(chosen);
  event.logprob = raw_logits_[static_cast<size_t>(chosen)] - log_z;
  return chosen;
}

}  // namespace whale
