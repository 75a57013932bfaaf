// Loading a Tokenizer from Hugging Face tokenizer.json (+ tokenizer_config.json). Every field is checked where
// it is read; errors name the file and the JSON path of the field.
#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/tokenizer_data.h"

namespace whale {
namespace {

using tok::AddedToken;
using tok::HfTokenizerJson;

// Looks up a token named in tokenizer_config.json.
template <typename Lookup>
int32_t config_token(const std::string& source, const char* key, const std::optional<std::string>& content,
                     const Lookup& ids, int32_t fallback) {
  if (!content) return fallback;
  std::optional<int32_t> found = ids(*content);
  if (!found) fail("{}: {}: \"{}\" is not a token of the vocabulary", source, key, *content);
  return *found;
}

}  // namespace

Tokenizer Tokenizer::from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                                  std::string source) {
  HfTokenizerJson hf = tok::parse_hf_tokenizer_json(tokenizer_json, source);
  auto data = std::make_shared<tok::TokenizerData>();
  tok::TokenizerData& d = *data;
  d.source = source;
  d.kind = TokenizerKind::ByteLevelBpe;
  d.nfc = hf.nfc;
  d.byte_level_add_prefix_space = hf.add_prefix_space;
  d.ignore_merges = hf.ignore_merges;
  for (const std::string& p : hf.split_patterns) d.pre.add_split(p, source + ": pre_tokenizer");

  size_t n = hf.vocab_size;
  d.token_text.assign(n, std::string());
  std::vector<std::string> model_bytes(n);
  for (const auto& [text, id] : hf.vocab) {
    std::string& slot = d.token_text[static_cast<size_t>(id)];
    if (!slot.empty()) fail("{}: model.vocab: id {} belongs to both \"{}\" and \"{}\"", source, id, slot, text);
    slot = text;
    std::string bytes;
    if (tok::from_byte_level(text, bytes)) model_bytes[static_cast<size_t>(id)] = std::move(bytes);
  }
  // Decoding goes through the added-token table first, as Hugging Face's id_to_token does.
  for (const AddedToken& t : hf.added) d.token_text[static_cast<size_t>(t.id)] = t.content;
  // The ByteLevel decoder maps a token's characters back to bytes; a token with any character outside the
  // byte alphabet (such as <｜begin▁of▁sentence｜>) is kept as its own UTF-8 text.
  d.token_bytes = model_bytes;
  for (size_t id = 0; id < n; ++id) {
    if (d.token_bytes[id].empty()) d.token_bytes[id] = d.token_text[id];
  }
  for (const AddedToken& t : hf.added) {
    std::string& bytes = d.token_bytes[static_cast<size_t>(t.id)];
    bytes.clear();
    if (!tok::from_byte_level(t.content, bytes)) bytes = t.content;
  }
  d.added = hf.added;

  // Added tokens by content first, then the vocabulary: the order of Hugging Face's token_to_id.
  auto ids = [&](const std::string& content) -> std::optional<int32_t> {
    for (const AddedToken& t : hf.added) {
      if (t.content == content) return t.id;
    }
    auto it = hf.vocab.find(content);
    if (it == hf.vocab.end()) return std::nullopt;
    return it->second;
  };
  std::vector<tok::BpeModel::Merge> merges;
  merges.reserve(hf.merges.size());
  for (size_t i = 0; i < hf.merges.size(); ++i) {
    const auto& [left, right] = hf.merges[i];
    auto l = hf.vocab.find(left), r = hf.vocab.find(right), m = hf.vocab.find(left + right);
    if (l == hf.vocab.end() || r == hf.vocab.end() || m == hf.vocab.end()) {
      fail("{}: model.merges[{}]: \"{} {}\": {} is not in model.vocab", source, i, left, right,
           l == hf.vocab.end() ? left : r == hf.vocab.end() ? right : left + right);
    }
    merges.push_back({l->second, r->second, m->second});
  }
  d.bpe = std::make_unique<tok::BpeModel>(model_bytes, merges, hf.ignore_merges);

  d.bos_id = hf.bos_id;
  d.eos_id = hf.eos_id;
  d.add_bos = hf.add_bos;
  d.add_eos = hf.add_eos;
  if (!tokenizer_config_json.empty()) {
    std::string config_source = (std::filesystem::path(source).parent_path() / "tokenizer_config.json").string();
    tok::HfTokenizerConfig config = tok::parse_hf_tokenizer_config(tokenizer_config_json, config_source);
    d.bos_id = config_token(config_source, "bos_token", config.bos_token, ids, d.bos_id);
    d.eos_id = config_token(config_source, "eos_token", config.eos_token, ids, d.eos_id);
    d.pad_id = config_token(config_source, "pad_token", config.pad_token, ids, d.pad_id);
    d.unk_id = config_token(config_source, "unk_token", config.unk_token, ids, d.unk_id);
    d.add_bos = config.add_bos_token.value_or(d.add_bos);
    d.add_eos = config.add_eos_token.value_or(d.add_eos);
  }
  d.by_text = std::move(hf.vocab);  // finish() adds the added tokens
  return tok::TokenizerData::finish(std::move(data));
}

Tokenizer Tokenizer::from_hf_files(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path json_path = path;
  std::error_code ec;
  if (fs::is_directory(json_path, ec)) json_path /= "tokenizer.json";
  if (!fs::exists(json_path, ec)) fail("{}: no such file", json_path.string());
  std::string text = read_text_file(json_path.string());
  fs::path config_path = json_path.parent_path() / "tokenizer_config.json";
  std::string config;
  if (fs::exists(config_path, ec)) config = read_text_file(config_path.string());
  return from_hf_json(text, config, json_path.string());
}

}  // namespace whale
