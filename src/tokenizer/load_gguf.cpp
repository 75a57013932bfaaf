// Loading a Tokenizer from GGUF metadata (the tokenizer.ggml.* keys written by llama.cpp's converters and by
// whale convert).
#include <cstdio>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer_data.h"

namespace whale {
namespace {

using tok::GgufTokenType;
using tok::TokenizerData;

constexpr size_t kMaxTokens = 1 << 24;

std::string where(const gguf::Metadata& md, std::string_view key) {
  return md.source().empty() ? fmt::format("key {}", key) : fmt::format("{}: key {}", md.source(), key);
}

const gguf::ArrayValue& require_array(const gguf::Metadata& md, std::string_view key, gguf::ValueType element) {
  const gguf::Value* v = md.find(key);
  if (!v) fail("{}: missing", where(md, key));
  const gguf::ArrayValue& a = v->as_array(where(md, key));
  if (element == gguf::ValueType::String && a.element_type != element) {
    fail("{}: expected an array of string, got an array of {}", where(md, key), gguf::value_type_name(a.element_type));
  }
  return a;
}

std::vector<std::string> string_array(const gguf::Metadata& md, std::string_view key) {
  const gguf::ArrayValue& a = require_array(md, key, gguf::ValueType::String);
  std::vector<std::string> out;
  out.reserve(a.items.size());
  for (const gguf::Value& item : a.items) {
    const auto* s = std::get_if<std::string>(&item.v);
    if (!s) fail("{}: expected an array of string", where(md, key));
    out.push_back(*s);
  }
  return out;
}

// An optional token-id key, checked against the vocabulary size.
int32_t optional_id(const gguf::Metadata& md, std::string_view key, size_t n_tokens) {
  std::optional<int64_t> id = md.find_int(key);
  if (!id) return -1;
  if (*id < 0 || static_cast<size_t>(*id) >= n_tokens) {
    fail("{}: token id {} is outside the vocabulary of {} tokens", where(md, key), *id, n_tokens);
  }
  return static_cast<int32_t>(*id);
}

std::vector<GgufTokenType> token_types(const gguf::Metadata& md, size_t n_tokens) {
  std::vector<GgufTokenType> types(n_tokens, GgufTokenType::Normal);
  const char* key = "tokenizer.ggml.token_type";
  if (!md.has(key)) return types;
  const gguf::ArrayValue& a = require_array(md, key, gguf::ValueType::Int32);
  if (a.items.size() != n_tokens) {
    fail("{}: has {} entries, expected one per token ({})", where(md, key), a.items.size(), n_tokens);
  }
  for (size_t i = 0; i < n_tokens; ++i) {
    int64_t t = a.items[i].as_int(where(md, key));
    if (t < 0 || t > 6) fail("{}[{}]: token type {} is not one of 0..6", where(md, key), i, t);
    types[i] = static_cast<GgufTokenType>(t);
  }
  return types;
}

bool is_added(GgufTokenType t) {
  return t == GgufTokenType::Control || t == GgufTokenType::UserDefined || t == GgufTokenType::Unknown;
}

// Added tokens are what llama.cpp matches in text as whole tokens: control, user-defined and unknown tokens.
void collect_added(TokenizerData& d) {
  for (size_t id = 0; id < d.token_text.size(); ++id) {
    GgufTokenType t = d.token_types[id];
    if (!is_added(t) || d.token_text[id].empty()) continue;
    tok::AddedToken a;
    a.id = static_cast<int32_t>(id);
    a.content = d.token_text[id];
    a.special = t != GgufTokenType::UserDefined;
    d.added.push_back(std::move(a));
  }
}

void load_byte_level(const gguf::Metadata& md, TokenizerData& d) {
  std::string pre = md.find_string("tokenizer.ggml.pre").value_or("default");
  std::optional<tok::PreTokenizerPreset> preset = tok::preset_for_gguf_pre(pre);
  if (!preset) {
    fail("{}: pre-tokenizer \"{}\" is not supported (supported: {})", where(md, "tokenizer.ggml.pre"), pre,
         tok::supported_gguf_pre_names());
  }
  d.gguf_pre = pre;
  d.nfc = preset->nfc;
  d.ignore_merges = preset->ignore_merges;
  d.add_bos = preset->add_bos;
  for (const std::string& p : preset->patterns) d.pre.add_split(p, where(md, "tokenizer.ggml.pre"));

  size_t n = d.token_text.size();
  std::vector<std::string> model_bytes(n);
  d.token_bytes.resize(n);
  std::unordered_map<std::string_view, int32_t> ids;
  ids.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    const std::string& text = d.token_text[id];
    ids.emplace(text, static_cast<int32_t>(id));
    // Normal tokens are spelled in the byte alphabet; added tokens are stored as their plain text.
    if (d.token_types[id] == GgufTokenType::Normal && tok::from_byte_level(text, d.token_bytes[id])) {
      model_bytes[id] = d.token_bytes[id];
    } else {
      d.token_bytes[id] = text;
    }
  }

  const char* key = "tokenizer.ggml.merges";
  const gguf::ArrayValue& merges = require_array(md, key, gguf::ValueType::String);
  std::vector<tok::BpeModel::Merge> merge_ids;
  merge_ids.reserve(merges.items.size());
  for (size_t i = 0; i < merges.items.size(); ++i) {
    const auto* s = std::get_if<std::string>(&merges.items[i].v);
    if (!s) fail("{}: expected an array of string", where(md, key));
    // The separator is the first space after the first character (a token itself is never empty).
    size_t space = s->size() > 1 ? s->find(' ', 1) : std::string::npos;
    if (space == std::string::npos) fail("{}[{}]: expected \"left right\", got \"{}\"", where(md, key), i, *s);
    std::string_view left(s->data(), space), right(s->data() + space + 1, s->size() - space - 1);
    std::string joined = std::string(left) + std::string(right);
    auto l = ids.find(left), r = ids.find(right), m = ids.find(joined);
    if (l == ids.end() || r == ids.end() || m == ids.end()) {
      fail("{}[{}]: \"{}\": {} is not a token", where(md, key), i, *s,
           l == ids.end() ? std::string(left) : r == ids.end() ? std::string(right) : joined);
    }
    merge_ids.push_back({l->second, r->second, m->second});
  }
  d.bpe = std::make_unique<tok::BpeModel>(model_bytes, merge_ids, d.ignore_merges);
}

void load_sentencepiece(const gguf::Metadata& md, TokenizerData& d) {
  size_t n = d.token_text.size();
  const char* key = "tokenizer.ggml.scores";
  d.scores.assign(n, 0.0f);
  if (md.has(key)) {
    const gguf::ArrayValue& a = require_array(md, key, gguf::ValueType::Float32);
    if (a.items.size() != n) fail("{}: has {} entries, expected one per token ({})", where(md, key), a.items.size(), n);
    for (size_t i = 0; i < n; ++i) d.scores[i] = static_cast<float>(a.items[i].as_float(where(md, key)));
  }
  std::vector<int32_t> byte_tokens(256, -1);
  d.token_bytes.resize(n);
  for (size_t id = 0; id < n; ++id) {
    const std::string& text = d.token_text[id];
    GgufTokenType type = d.token_types[id];
    unsigned byte = 0;
    int consumed = 0;
    if (type == GgufTokenType::Byte) {
      if (text.size() != 6 || std::sscanf(text.c_str(), "<0x%2X>%n", &byte, &consumed) != 1 || consumed != 6) {
        fail("{}[{}]: byte token \"{}\" is not of the form <0xXX>", where(md, "tokenizer.ggml.tokens"), id, text);
      }
      byte_tokens[byte] = static_cast<int32_t>(id);
      d.token_bytes[id] = std::string(1, static_cast<char>(byte));
    } else if (type == GgufTokenType::Normal || type == GgufTokenType::Unused || type == GgufTokenType::Undefined) {
      std::string& out = d.token_bytes[id];
      for (size_t pos = 0; pos < text.size();) {
        if (text.compare(pos, tok::kSpmSpace.size(), tok::kSpmSpace) == 0) {
          out.push_back(' ');
          pos += tok::kSpmSpace.size();
        } else {
          out.push_back(text[pos++]);
        }
      }
    } else {
      d.token_bytes[id] = text;
    }
  }
  d.add_space_prefix = md.find_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  d.add_bos = true;
  if (d.unk_id < 0) {
    for (size_t id = 0; id < n && d.unk_id < 0; ++id) {
      if (d.token_types[id] == GgufTokenType::Unknown) d.unk_id = static_cast<int32_t>(id);
    }
  }
  d.spm = std::make_unique<tok::SpmModel>(d.token_text, d.scores, byte_tokens, d.unk_id);
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const gguf::Metadata& md) {
  auto data = std::make_shared<TokenizerData>();
  TokenizerData& d = *data;
  d.source = md.source();
  std::string model = md.get_string("tokenizer.ggml.model");
  d.token_text = string_array(md, "tokenizer.ggml.tokens");
  size_t n = d.token_text.size();
  if (n == 0 || n > kMaxTokens) {
    fail("{}: {} tokens, expected 1..{}", where(md, "tokenizer.ggml.tokens"), n, kMaxTokens);
  }
  d.token_types = token_types(md, n);
  d.bos_id = optional_id(md, "tokenizer.ggml.bos_token_id", n);
  d.eos_id = optional_id(md, "tokenizer.ggml.eos_token_id", n);
  d.pad_id = optional_id(md, "tokenizer.ggml.padding_token_id", n);
  d.unk_id = optional_id(md, "tokenizer.ggml.unknown_token_id", n);
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (int32_t id = optional_id(md, key, n); id >= 0) d.end_of_generation.push_back(id);
  }

  if (model == "gpt2") {
    d.kind = TokenizerKind::ByteLevelBpe;
    load_byte_level(md, d);
  } else if (model == "llama") {
    d.kind = TokenizerKind::SentencePieceBpe;
    load_sentencepiece(md, d);
  } else {
    fail("{}: tokenizer \"{}\" is not supported (whale supports \"gpt2\" and \"llama\")",
         where(md, "tokenizer.ggml.model"), model);
  }
  d.add_bos = md.find_bool("tokenizer.ggml.add_bos_token").value_or(d.add_bos);
  d.add_eos = md.find_bool("tokenizer.ggml.add_eos_token").value_or(false);
  collect_added(d);
  return TokenizerData::finish(std::move(data));
}

}  // namespace whale
