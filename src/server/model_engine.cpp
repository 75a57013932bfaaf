// ModelEngine (see model_engine.h).
#include "server/model_engine.h"

#include <filesystem>

#include "chat/reasoning.h"
#include "core/log.h"
#include "runtime/process_memory.h"
#include "tokenizer/detokenizer.h"

namespace whale::server {
namespace {

class Detokenizer : public TokenDecoder {
 public:
  explicit Detokenizer(const Tokenizer& tokenizer) : detok_(tokenizer, /*skip_special=*/true) {}
  std::string push(int32_t token) override { return detok_.push(token); }
  std::string flush() override { return detok_.finish(); }

 private:
  StreamingDetokenizer detok_;
};

std::string name_of(const LoadedModel& loaded, const std::string& path) {
  const gguf::Metadata& metadata = loaded.source->metadata();
  if (metadata.has("general.name")) {
    std::string text = metadata.get_string("general.name");
    if (!text.empty()) return text;
  }
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "folder/" -> "folder"
  return p.stem().string();
}

LoadedModel load(const std::string& path, ThreadPool& pool, bool map_weights) {
  LoadModelOptions options;
  options.pool = &pool;
  options.map_weights = map_weights;
  return load_model_from_path(path, options);
}

}  // namespace

ModelEngine::ModelEngine(const std::string& path, ModelEngineOptions options)
    : pool_(std::make_unique<ThreadPool>(options.threads)), loaded_(load(path, *pool_, options.map_weights)) {
  model_id_ = name_of(loaded_, path);
  const Tokenizer& tok = loaded_.tokenizer;
  reasoning_ = tok.token_id("<think>").has_value() ||
               (loaded_.chat_template && loaded_.chat_template->source().find("</think>") != std::string::npos);
  SchedulerOptions s = options.scheduler;
  int64_t trained = loaded_.model->config().context_length;
  if (s.context_length == 0)
    s.context_length =
        trained > 0 ? std::min(trained, ModelEngineOptions::kDefaultContext) : ModelEngineOptions::kDefaultContext;
  s.end_tokens = tok.end_of_generation_ids();
  if (options.check_memory) {
    MemoryNeed need;
    need.weights = loaded_.source->tensor_bytes();
    need.kv_cache = static_cast<uint64_t>(s.parallel) * static_cast<uint64_t>(s.context_length) *
                    loaded_.model->kv_bytes_per_token();
    need.kv_shape = fmt::format("{} sequences x {} tokens", s.parallel, s.context_length);
    check_memory_fits(path, need, loaded_.available_before_load);
  }
  if (!s.cache_dir.empty()) s.model_fingerprint = model_fingerprint(*loaded_.source);
  if (!loaded_.chat_template)
    log(LogLevel::Warn,
        "{}: the model ships no chat template; /v1/chat/completions will refuse requests "
        "(use /v1/completions)",
        path);
  scheduler_ = std::make_unique<Scheduler>(*loaded_.model, std::move(s));
}

ModelEngine::~ModelEngine() { scheduler_->stop(); }

ChatPrompt ModelEngine::encode_chat(const std::vector<ChatMessage>& messages) {
  if (!loaded_.chat_template) fail("the model has no chat template; send a raw prompt to /v1/completions");
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& m : messages) {
    nlohmann::ordered_json item = {{"role", m.role}, {"content", m.content}};
    if (!m.name.empty()) item["name"] = m.name;
    if (!m.tool_call_id.empty()) item["tool_call_id"] = m.tool_call_id;
    list.push_back(std::move(item));
  }
  std::string text = loaded_.chat_template->apply(list, /*add_generation_prompt=*/true);
  ChatPrompt prompt;
  prompt.opens_reasoning = reasoning_ && whale::prompt_opens_reasoning(text);
  // The template writes BOS itself where the model wants it.
  prompt.ids = loaded_.tokenizer.encode(text, /*add_special=*/false);
  return prompt;
}

std::vector<int32_t> ModelEngine::encode_text(const std::string& text) { return loaded_.tokenizer.encode(text, true); }

std::unique_ptr<TokenDecoder> ModelEngine::decoder() { return std::make_unique<Detokenizer>(loaded_.tokenizer); }

std::string ModelEngine::token_text(int32_t token) {
  int32_t id = token;
  return loaded_.tokenizer.decode_bytes(std::span<const int32_t>(&id, 1));
}

std::shared_ptr<const TokenVocabulary> ModelEngine::vocabulary() {
  std::call_once(vocabulary_once_, [&] {
    auto v = std::make_shared<TokenVocabulary>();
    const Tokenizer& tok = loaded_.tokenizer;
    const auto n = static_cast<size_t>(loaded_.model->config().vocab_size);
    v->bytes.resize(n);
    v->special.assign(n, true);  // rows of the embedding the tokenizer does not know are never chosen
    for (int32_t id = 0; id < tok.vocab_size() && static_cast<size_t>(id) < n; ++id) {
      v->bytes[static_cast<size_t>(id)] = std::string(tok.token_bytes(id));
      v->special[static_cast<size_t>(id)] = tok.is_special(id);
    }
    vocabulary_ = std::move(v);
  });
  return vocabulary_;
}

}  // namespace whale::server
