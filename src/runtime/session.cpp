// Session: the single-sequence generation loop (see session.h).
#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "runtime/process_memory.h"
#include "tokenizer/detokenizer.h"

namespace whale {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Text that is final except for a tail that could still become a stop string.
class StopFilter {
 public:
  StopFilter(const std::vector<std::string>& stops, const TextCallback& sink) : stops_(stops), sink_(sink) {}

  // Adds text; returns true when a stop string was completed (everything before it has been emitted).
  bool push(std::string_view piece) {
    pending_ += piece;
    size_t first = std::string::npos;
    for (const std::string& s : stops_) {
      if (s.empty()) continue;
      size_t at = pending_.find(s);
      if (at != std::string::npos) first = std::min(first, at);
    }
    if (first != std::string::npos) {
      emit(pending_.substr(0, first));
      pending_.clear();
      return true;
    }
    // Hold back the longest tail that is a proper prefix of a stop string.
    size_t hold = 0;
    for (const std::string& s : stops_) {
      for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); len > hold; --len) {
        if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
          hold = len;
          break;
        }
      }
    }
    emit(pending_.substr(0, pending_.size() - hold));
    pending_.erase(0, pending_.size() - hold);
    return false;
  }
  // End of generation without a stop string: the held tail is final.
  void finish() {
    emit(pending_);
    pending_.clear();
  }
  const std::string& text() const { return text_; }

 private:
  void emit(std::string_view s) {
    if (s.empty()) return;
    text_ += s;
    if (sink_) sink_(s);
  }
  const std::vector<std::string>& stops_;
  const TextCallback& sink_;
  std::string pending_;
  std::string text_;
};

}  // namespace

std::string_view finish_reason_name(FinishReason reason) { return reason == FinishReason::Stop ? "stop" : "length"; }

double Timings::prompt_tokens_per_second() const {
  const int64_t computed = prompt_tokens - cached_tokens;
  return prompt_ms > 0 ? static_cast<double>(computed) * 1000.0 / prompt_ms : 0.0;
}

double Timings::generated_tokens_per_second() const {
  return generate_ms > 0 ? static_cast<double>(generated_tokens) * 1000.0 / generate_ms : 0.0;
}

Session::Session(Model& model, const Tokenizer& tokenizer, int64_t context_size)
    : model_(model),
      tokenizer_(tokenizer),
      cache_(model.create_cache(context_size)),
      logits_(static_cast<size_t>(model.config().vocab_size)) {
  tokens_.reserve(static_cast<size_t>(context_size));
}

void Session::reset() {
  tokens_.clear();
  cache_->clear();
}

std::span<const float> Session::prefill(std::span<const int32_t> prompt) {
  if (prompt.empty()) fail("the prompt is empty");
  if (static_cast<int64_t>(prompt.size()) > cache_->capacity()) {
    fail("the prompt has {} tokens but the context holds {} (raise --ctx)", prompt.size(), cache_->capacity());
  }
  // Reuse the cached prefix; at least the last prompt token is recomputed to get its logits.
  size_t common = 0;
  while (common < tokens_.size() && common < prompt.size() && tokens_[common] == prompt[common]) ++common;
  common = std::min(common, prompt.size() - 1);
  tokens_.resize(common);
  cache_->truncate(static_cast<int64_t>(common));
  std::span<const int32_t> rest = prompt.subspan(common);
  model_.forward(rest, static_cast<int64_t>(common), *cache_, logits_);
  tokens_.insert(tokens_.end(), rest.begin(), rest.end());
  return logits_;
}

GenerationResult Session::generate(std::span<const int32_t> prompt, const GenerationOptions& options,
                                   const TextCallback& on_text) {
  GenerationResult result;
  Timings& timings = result.timings;
  timings.prompt_tokens = static_cast<int64_t>(prompt.size());
  {
    size_t common = 0;
    while (common < tokens_.size() && common < prompt.size() && tokens_[common] == prompt[common]) ++common;
    timings.cached_tokens = static_cast<int64_t>(std::min(common, prompt.empty() ? 0 : prompt.size() - 1));
  }
  const Clock::time_point prompt_start = Clock::now();
  prefill(prompt);
  timings.prompt_ms = ms_since(prompt_start);

  Sampler sampler(options.sampling, model_.config().vocab_size);
  StreamingDetokenizer detokenizer(tokenizer_, /*skip_special=*/true);
  StopFilter filter(options.stop, on_text);
  std::string piece;
  const Clock::time_point generate_start = Clock::now();
  bool stopped = false;
  while (options.max_tokens < 0 || static_cast<int64_t>(result.tokens.size()) < options.max_tokens) {
    const int32_t id = sampler.sample(logits_, tokens_);
    result.tokens.push_back(id);
    ++timings.generated_tokens;
    if (!options.ignore_eos && tokenizer_.is_end_of_generation(id)) {
      stopped = true;
      break;
    }
    piece.clear();
    detokenizer.push(id, piece);
    if (filter.push(piece)) {
      stopped = true;
      break;
    }
    // The last token is not run: nothing would read its logits (and there may be no room for it).
    if (static_cast<int64_t>(result.tokens.size()) == options.max_tokens) break;
    if (cache_->length() >= cache_->capacity()) break;
    const int32_t one[1] = {id};
    model_.forward(std::span<const int32_t>(one, 1), cache_->length(), *cache_, logits_);
    tokens_.push_back(id);
  }
  timings.generate_ms = ms_since(generate_start);
  if (!stopped) {
    if (filter.push(detokenizer.finish())) {
      stopped = true;
    } else {
      filter.finish();
    }
  }
  result.finish = stopped ? FinishReason::Stop : FinishReason::Length;
  result.text = filter.text();
  return result;
}

int64_t choose_context_size(const Model& model, int64_t requested) {
  const int64_t trained = model.config().context_length;
  const size_t per_token = model.kv_bytes_per_token();
  if (requested > 0) {
    const uint64_t total = meminfo_bytes("MemTotal");
    if (total > 0 && per_token > 0 && static_cast<uint64_t>(requested) > total / per_token) {
      fail("--ctx {}: the KV cache would need {:.1f} GiB ({} bytes per token), more than the {:.1f} GiB of memory",
           requested, static_cast<double>(requested) * static_cast<double>(per_token) / (1 << 30), per_token,
           static_cast<double>(total) / (1 << 30));
    }
    return requested;
  }
  int64_t context = trained;
  const uint64_t available = meminfo_bytes("MemAvailable");
  if (available > 0 && per_token > 0) {
    context = std::min(context, static_cast<int64_t>(available / 2 / per_token));
  }
  return std::max<int64_t>(std::min<int64_t>(256, trained), context);
}

}  // namespace whale
