// ToyModel / ToyEngine (see toy_engine.h).
#include "server/toy_engine.h"

#include <cstring>
#include <thread>
#include <vector>

namespace whale::server {
namespace {

uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

class ToyCache : public KvCache {
 public:
  explicit ToyCache(int64_t capacity)
      : KvCache(capacity), hash(static_cast<size_t>(capacity)), since_assistant(static_cast<size_t>(capacity)) {}
  size_t bytes() const override { return hash.size() * 2 * sizeof(uint64_t); }
  size_t row_bytes() const override { return sizeof(uint64_t) + sizeof(int64_t); }
  void read_rows(int64_t first, int64_t count, std::span<std::byte> out) const override {
    WHALE_ASSERT(first >= 0 && first + count <= length() && out.size() == static_cast<size_t>(count) * row_bytes());
    for (int64_t p = first; p < first + count; ++p) {
      std::byte* row = out.data() + static_cast<size_t>(p - first) * row_bytes();
      std::memcpy(row, &hash[static_cast<size_t>(p)], sizeof(uint64_t));
      std::memcpy(row + sizeof(uint64_t), &since_assistant[static_cast<size_t>(p)], sizeof(int64_t));
    }
  }
  std::vector<uint64_t> hash;            // hash of tokens 0..p
  std::vector<int64_t> since_assistant;  // tokens after the last <|assistant|> at position p (-1: none yet)

 private:
  void store_rows(int64_t first, int64_t count, std::span<const std::byte> in) override {
    for (int64_t p = first; p < first + count; ++p) {
      const std::byte* row = in.data() + static_cast<size_t>(p - first) * row_bytes();
      std::memcpy(&hash[static_cast<size_t>(p)], row, sizeof(uint64_t));
      std::memcpy(&since_assistant[static_cast<size_t>(p)], row + sizeof(uint64_t), sizeof(int64_t));
    }
  }
};

ModelConfig toy_config() {
  ModelConfig c;
  c.arch = "toy";
  c.name = "whale-toy";
  c.vocab_size = toy_token::kVocab;
  c.context_length = 1 << 20;
  return c;
}

// Holds back an incomplete UTF-8 sequence until its last byte arrives.
class ByteDecoder : public TokenDecoder {
 public:
  std::string push(int32_t token) override {
    if (token >= 256) return flush() + special(token);
    held_ += static_cast<char>(token);
    auto lead = static_cast<unsigned char>(held_[0]);
    size_t need = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
    if (held_.size() < need) return {};
    return flush();
  }
  std::string flush() override {
    std::string out;
    out.swap(held_);
    return out;
  }
  static std::string special(int32_t token) {
    switch (token) {
      case toy_token::kSystem:
        return "<|system|>";
      case toy_token::kUser:
        return "<|user|>";
      case toy_token::kAssistant:
        return "<|assistant|>";
      default:
        return "<|end|>";
    }
  }

 private:
  std::string held_;
};

}  // namespace

const std::string& ToyModel::script_text() {
  static const std::string text =
      "<think>\nThe user wants an answer. Let me think step by step.\n</think>\n\n"
      "Hello from the toy model!";
  return text;
}

ToyModel::ToyModel(ToyOptions options) : Model(toy_config()), options_(options) {}

std::unique_ptr<KvCache> ToyModel::create_cache(int64_t context_length) {
  return std::make_unique<ToyCache>(context_length);
}

void ToyModel::forward(std::span<const SequenceBatch> batch) {
  ++forward_calls_;
  if (options_.step_delay.count() > 0) std::this_thread::sleep_for(options_.step_delay);
  const auto& script = script_text();
  for (const SequenceBatch& s : batch) {
    auto& cache = static_cast<ToyCache&>(*s.cache);
    WHALE_ASSERT(s.start_pos >= 0 && s.start_pos <= cache.length());
    if (s.start_pos + static_cast<int64_t>(s.tokens.size()) > cache.capacity())
      fail("toy model: {} tokens from position {} exceed the cache of {}", s.tokens.size(), s.start_pos,
           cache.capacity());
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      auto p = static_cast<size_t>(s.start_pos) + i;
      int32_t token = s.tokens[i];
      WHALE_ASSERT(token >= 0 && token < toy_token::kVocab);
      uint64_t previous = p == 0 ? 0x1234 : cache.hash[p - 1];
      int64_t since = p == 0 ? -1 : cache.since_assistant[p - 1];
      cache.hash[p] = mix(previous, static_cast<uint64_t>(token));
      cache.since_assistant[p] = token == toy_token::kAssistant ? 0 : since < 0 ? -1 : since + 1;
    }
    cache.set_length(s.start_pos + static_cast<int64_t>(s.tokens.size()));
    if (s.logits.empty()) continue;
    WHALE_ASSERT(s.logits.size() == static_cast<size_t>(toy_token::kVocab));
    auto last = static_cast<size_t>(cache.length() - 1);
    uint64_t h = cache.hash[last];
    for (int32_t v = 0; v < toy_token::kVocab; ++v) {
      bool printable = v == '\n' || (v >= 32 && v < 127);
      s.logits[static_cast<size_t>(v)] =
          printable ? static_cast<float>(mix(h, static_cast<uint64_t>(v)) % 3000) / 1000.0f : -30.0f;
    }
    int64_t index = cache.since_assistant[last];
    if (options_.script && index >= 0) {
      auto i = static_cast<size_t>(index);
      int32_t next = i < script.size() ? static_cast<unsigned char>(script[i]) : toy_token::kEnd;
      if (i <= script.size()) s.logits[static_cast<size_t>(next)] = 15.0f;
    }
  }
}

ToyEngine::ToyEngine(ToyOptions toy, SchedulerOptions scheduler) : model_(std::make_unique<ToyModel>(toy)) {
  scheduler.end_tokens = {toy_token::kEnd};
  scheduler.model_fingerprint = toy.script ? 0x746f792d73637269ull : 0x746f792d6e6f6973ull;  // its two behaviours
  scheduler_ = std::make_unique<Scheduler>(*model_, std::move(scheduler));
}

ToyEngine::~ToyEngine() { scheduler_->stop(); }

ChatPrompt ToyEngine::encode_chat(const std::vector<ChatMessage>& messages) {
  ChatPrompt prompt;
  for (const auto& m : messages) {
    int32_t role = m.role == "system"      ? toy_token::kSystem
                   : m.role == "assistant" ? toy_token::kAssistant
                                           : toy_token::kUser;
    prompt.ids.push_back(role);
    std::string content = m.content;
    // As the R1 templates do: an earlier answer goes back without its chain of thought.
    if (size_t end = content.find("</think>"); m.role == "assistant" && end != std::string::npos)
      content = content.substr(end + 8);
    for (unsigned char c : content) prompt.ids.push_back(c);
  }
  prompt.ids.push_back(toy_token::kAssistant);
  for (unsigned char c : std::string("<think>\n")) prompt.ids.push_back(c);
  prompt.opens_reasoning = true;
  return prompt;
}

std::vector<int32_t> ToyEngine::encode_text(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

std::unique_ptr<TokenDecoder> ToyEngine::decoder() { return std::make_unique<ByteDecoder>(); }

std::string ToyEngine::token_text(int32_t token) {
  return token < 256 ? std::string(1, static_cast<char>(token)) : ByteDecoder::special(token);
}

std::shared_ptr<const TokenVocabulary> ToyEngine::vocabulary() {
  std::call_once(vocabulary_once_, [&] {
    auto v = std::make_shared<TokenVocabulary>();
    for (int32_t t = 0; t < toy_token::kVocab; ++t) {
      v->bytes.push_back(t < 256 ? std::string(1, static_cast<char>(t)) : ByteDecoder::special(t));
      v->special.push_back(t >= 256);
    }
    vocabulary_ = std::move(v);
  });
  return vocabulary_;
}

}  // namespace whale::server
