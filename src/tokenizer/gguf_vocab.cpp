// tokenizer.json -> GGUF tokenizer keys.
#include "tokenizer/gguf_vocab.h"

#include <fmt/format.h>

#include "core/error.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_data.h"

namespace whale {
namespace {

bool starts_ends(const std::string& s, std::string_view prefix, std::string_view suffix) {
  return s.size() >= prefix.size() + suffix.size() && s.compare(0, prefix.size(), prefix) == 0 &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Some models mark chat-control tokens as not special in tokenizer.json; llama.cpp's converter treats tokens
// that look like control tokens as control tokens all the same, and so does whale, to produce the same files.
bool looks_special(const std::string& content) {
  return content == "<pad>" || content == "<mask>" || starts_ends(content, "<|", "|>") ||
         starts_ends(content, "<\xef\xbd\x9c", "\xef\xbd\x9c>") || starts_ends(content, "<unused", ">");
}

}  // namespace

void add_tokenizer_to_gguf(const std::string& tokenizer_json, const std::string& tokenizer_config_json,
                           gguf::Metadata& out) {
  const std::string source = "tokenizer.json";
  tok::HfTokenizerJson hf = tok::parse_hf_tokenizer_json(tokenizer_json, source);
  std::optional<std::string> pre = tok::gguf_pre_for_patterns(hf.split_patterns, hf.nfc);
  if (!pre) {
    fail("{}: pre_tokenizer: its split regexes match none of the llama.cpp pre-tokenizers whale can write "
         "(deepseek-v3, qwen2, llama-bpe, gpt-2)", source);
  }
  if (hf.add_prefix_space) fail("{}: pre_tokenizer: ByteLevel add_prefix_space has no GGUF equivalent", source);

  size_t n = hf.vocab_size;
  if (std::optional<std::string> arch = out.find_string("general.architecture")) {
    if (std::optional<int64_t> rows = out.find_int(*arch + ".vocab_size"); rows && *rows > static_cast<int64_t>(n)) {
      n = static_cast<size_t>(*rows);
    }
  }
  std::vector<std::string> tokens(n);
  std::vector<int32_t> types(n, static_cast<int32_t>(tok::GgufTokenType::Unused));
  for (const auto& [text, id] : hf.vocab) {
    tokens[static_cast<size_t>(id)] = text;
    types[static_cast<size_t>(id)] = static_cast<int32_t>(tok::GgufTokenType::Normal);
  }
  std::unordered_map<std::string, int32_t> ids(hf.vocab.begin(), hf.vocab.end());
  for (const tok::AddedToken& t : hf.added) {
    tokens[static_cast<size_t>(t.id)] = t.content;
    bool control = t.special || looks_special(t.content);
    types[static_cast<size_t>(t.id)] =
        static_cast<int32_t>(control ? tok::GgufTokenType::Control : tok::GgufTokenType::UserDefined);
    ids[t.content] = t.id;
  }
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i].empty()) tokens[i] = fmt::format("[PAD{}]", i);
  }
  std::vector<std::string> merges;
  merges.reserve(hf.merges.size());
  for (const auto& [left, right] : hf.merges) merges.push_back(left + " " + right);

  int32_t bos = hf.bos_id, eos = hf.eos_id, pad = -1;
  bool add_bos = hf.add_bos, add_eos = hf.add_eos;
  std::optional<std::string> chat_template;
  if (!tokenizer_config_json.empty()) {
    const std::string config_source = "tokenizer_config.json";
    tok::HfTokenizerConfig config = tok::parse_hf_tokenizer_config(tokenizer_config_json, config_source);
    auto lookup = [&](const char* key, const std::optional<std::string>& content, int32_t fallback) {
      if (!content) return fallback;
      auto it = ids.find(*content);
      if (it == ids.end()) fail("{}: {}: \"{}\" is not a token of the vocabulary", config_source, key, *content);
      return it->second;
    };
    bos = lookup("bos_token", config.bos_token, bos);
    eos = lookup("eos_token", config.eos_token, eos);
    pad = lookup("pad_token", config.pad_token, pad);
    add_bos = config.add_bos_token.value_or(add_bos);
    add_eos = config.add_eos_token.value_or(add_eos);
    chat_template = config.chat_template;
  }

  out.set_string("tokenizer.ggml.model", "gpt2");
  out.set_string("tokenizer.ggml.pre", *pre);
  out.set_string_array("tokenizer.ggml.tokens", tokens);
  out.set_int32_array("tokenizer.ggml.token_type", types);
  out.set_string_array("tokenizer.ggml.merges", merges);
  if (bos >= 0) out.set_uint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
  if (eos >= 0) out.set_uint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
  if (pad >= 0) out.set_uint32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(pad));
  // Written even when false: llama.cpp's default for some pre-tokenizers (llama-bpe) is to add BOS.
  out.set_bool("tokenizer.ggml.add_bos_token", add_bos);
  out.set_bool("tokenizer.ggml.add_eos_token", add_eos);
  if (chat_template) out.set_string("tokenizer.chat_template", *chat_template);
}

}  // namespace whale
