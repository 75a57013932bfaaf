// Byte-level BPE training: count the corpus's pre-tokenized words, then repeatedly merge the most frequent
// adjacent pair of symbols. Merge order is the rank order that encoding applies, so the learned merges
// encode the corpus the way they were learned. The corpus of the built-in tasks has a few thousand distinct
// words, so a plain recount per merge is fast enough and easy to check.
#include "train/bpe_trainer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace whale::train {
namespace {

using nlohmann::ordered_json;

constexpr const char* kBos = "<｜begin▁of▁sentence｜>";
constexpr const char* kEos = "<｜end▁of▁sentence｜>";
constexpr const char* kPad = "<｜▁pad▁｜>";

struct Word {
  std::vector<int32_t> symbols;
  int64_t count = 0;
};

// Cuts the added tokens out of a corpus text: they are never part of a BPE word.
void split_added(std::string_view text, std::vector<std::string_view>& out) {
  const std::vector<std::string>& added = r1_added_tokens();
  while (!text.empty()) {
    size_t best = text.size(), best_len = 0;
    for (const std::string& token : added) {
      size_t at = text.find(token);
      if (at < best) best = at, best_len = token.size();
    }
    if (best > 0) out.push_back(text.substr(0, best));
    if (best == text.size()) break;
    text.remove_prefix(best + best_len);
  }
}

ordered_json added_token_json(int32_t id, const std::string& content) {
  // <think> and </think> are plain text to decoders (special: false, as in DeepSeek-R1's tokenizer.json), so
  // the reasoning tags survive skip_special decoding and the server's reasoning splitter sees them.
  bool special = content != "<think>" && content != "</think>";
  return ordered_json{{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
                      {"rstrip", false},   {"normalized", false}, {"special", special}};
}

ordered_json byte_level_json() {
  return ordered_json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
}

// tokenizer.json of a byte-level BPE split by the qwen2 pre-tokenizer regex (digits one by one).
ordered_json byte_level_bpe_json(const ordered_json& added_tokens, const ordered_json& vocab, const ordered_json& merges) {
  ordered_json split = {{"type", "Split"},
                        {"pattern", {{"Regex", tok::preset_for_gguf_pre("qwen2")->patterns[0]}}},
                        {"behavior", "Isolated"},
                        {"invert", false}};
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added_tokens},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", ordered_json::array({split, byte_level_json()})}}},
      {"post_processor", byte_level_json()},
      {"decoder", byte_level_json()},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}},
  };
}

}  // namespace

TrainedTokenizer read_tokenizer_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path json = fs::is_directory(dir, ec) ? fs::path(dir) / "tokenizer.json" : fs::path(dir);
  auto read = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("--tokenizer: {}: cannot read the file", path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  if (!fs::is_regular_file(json, ec)) fail("--tokenizer: {}: no tokenizer.json there", dir);
  TrainedTokenizer t;
  t.tokenizer_json = read(json);
  fs::path config = json.parent_path() / "tokenizer_config.json";
  if (fs::is_regular_file(config, ec)) t.tokenizer_config_json = read(config);
  Tokenizer::from_hf_json(t.tokenizer_json, t.tokenizer_config_json, json.string());  // validates
  return t;
}

TrainedTokenizer tokenizer_from_gguf(const std::string& gguf_path) {
  gguf::File file = gguf::File::open(gguf_path);
  const gguf::Metadata& meta = file.metadata();
  std::optional<std::string> model = meta.find_string("tokenizer.ggml.model");
  std::optional<std::string> pre = meta.find_string("tokenizer.ggml.pre");
  if (!model || *model != "gpt2" || !pre || *pre != "qwen2") {
    fail("{}: the tokenizer is not a byte-level BPE with qwen2 pre-tokenization (model {}, pre {}); pass --tokenizer",
         gguf_path, model.value_or("none"), pre.value_or("none"));
  }
  std::vector<std::string> tokens = meta.get_string_array("tokenizer.ggml.tokens");
  std::vector<int64_t> types = meta.get_int_array("tokenizer.ggml.token_type");
  if (types.size() != tokens.size()) {
    fail("{}: tokenizer.ggml.token_type has {} entries for {} tokens", gguf_path, types.size(), tokens.size());
  }
  // GGUF token types (llama.cpp): 1 normal, 3 control, 4 user-defined, 5 unused (padding rows).
  ordered_json vocab = ordered_json::object(), added = ordered_json::array(), added_decoder = ordered_json::object();
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (types[id] == 1) {
      vocab[tokens[id]] = static_cast<int64_t>(id);
    } else if (types[id] == 3 || types[id] == 4) {
      ordered_json entry = added_token_json(static_cast<int32_t>(id), tokens[id]);
      entry["special"] = types[id] == 3;
      added.push_back(entry);
      entry.erase("id");
      added_decoder[std::to_string(id)] = entry;
    }
  }
  ordered_json tokenizer = byte_level_bpe_json(added, vocab, meta.get_string_array("tokenizer.ggml.merges"));
  auto token_at = [&](const char* key) -> ordered_json {
    std::optional<int64_t> id = meta.find_int(key);
    if (!id) return nullptr;
    if (*id < 0 || *id >= static_cast<int64_t>(tokens.size())) fail("{}: {} {} is not a token id", gguf_path, key, *id);
    return tokens[static_cast<size_t>(*id)];
  };
  ordered_json config = {
      {"add_bos_token", meta.find_bool("tokenizer.ggml.add_bos_token").value_or(false)},
      {"add_eos_token", meta.find_bool("tokenizer.ggml.add_eos_token").value_or(false)},
      {"added_tokens_decoder", added_decoder},
      {"bos_token", token_at("tokenizer.ggml.bos_token_id")},
      {"clean_up_tokenization_spaces", false},
      {"eos_token", token_at("tokenizer.ggml.eos_token_id")},
      {"legacy", true},
      {"model_max_length", 4096},
      {"pad_token", token_at("tokenizer.ggml.padding_token_id")},
      {"tokenizer_class", "PreTrainedTokenizerFast"},
  };
  if (std::optional<std::string> chat = meta.find_string("tokenizer.chat_template")) config["chat_template"] = *chat;
  TrainedTokenizer out{tokenizer.dump(2), config.dump(2)};
  Tokenizer::from_hf_json(out.tokenizer_json, out.tokenizer_config_json, gguf_path);  // validates
  return out;
}

ChatTemplate chat_template_of(const TrainedTokenizer& tokenizer, const std::string& source) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(tokenizer.tokenizer_config_json.empty() ? "{}" : tokenizer.tokenizer_config_json);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: tokenizer_config.json: invalid JSON: {}", source, e.what());
  }
  auto text_of = [&](const char* key) -> std::string {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
    fail("{}: tokenizer_config.json: {} must be a string or {{\"content\": string}}", source, key);
  };
  std::string chat_template = text_of("chat_template");
  if (chat_template.empty()) fail("{}: tokenizer_config.json has no chat_template", source);
  return ChatTemplate(chat_template, text_of("bos_token"), text_of("eos_token"), source + " chat_template");
}

std::vector<std::string> task_corpus(const std::vector<Task>& tasks, int64_t problems_per_task, uint64_t seed) {
  std::vector<std::string> corpus;
  for (Task task : tasks) {
    for (int64_t i = 0; i < problems_per_task; ++i) {
      Problem p = make_problem(task, Split::Train, seed, static_cast<uint64_t>(i));
      corpus.push_back(p.question);
      corpus.push_back(fmt::format("<think>\n{}\n</think>\n\n{}", p.reasoning, p.answer));
    }
  }
  return corpus;
}

const std::vector<std::string>& r1_added_tokens() {
  static const std::vector<std::string> tokens = {kBos, kEos, "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", kPad};
  return tokens;
}

TrainedTokenizer train_bpe(const std::vector<std::string>& corpus, int32_t vocab_size, const std::string& chat_template) {
  const int32_t added = static_cast<int32_t>(r1_added_tokens().size());
  if (vocab_size < 256 + added) {
    fail("--vocab: {} is too small: a byte-level BPE needs 256 byte tokens plus {} added tokens", vocab_size, added);
  }
  if (vocab_size > 1 << 20) fail("--vocab: {} is too large (at most {})", vocab_size, 1 << 20);
  std::optional<tok::PreTokenizerPreset> preset = tok::preset_for_gguf_pre("qwen2");
  WHALE_ASSERT(preset && preset->patterns.size() == 1);
  tok::PreTokenizer pre;
  pre.add_split(preset->patterns[0], "qwen2 pre-tokenizer");

  // Distinct words (as bytes) with their counts; std::map keeps the order, and so the output, deterministic.
  std::map<std::string, int64_t> word_counts;
  std::vector<std::string_view> chunks, pieces, scratch;
  for (const std::string& text : corpus) {
    if (tok::find_invalid_utf8(text) != std::string::npos) fail("tokenizer corpus: a text is not valid UTF-8");
    chunks.clear();
    split_added(text, chunks);
    for (std::string_view chunk : chunks) {
      std::string normalized = tok::nfc(chunk);
      pre.split(normalized, pieces, scratch);
      for (std::string_view piece : pieces) ++word_counts[std::string(piece)];
    }
  }

  // Symbols: ids 0..255 are the bytes (spelled in GPT-2's byte alphabet), then one per merge.
  std::vector<std::string> token_text;
  std::unordered_map<std::string, int32_t> token_id;
  for (int b = 0; b < 256; ++b) {
    token_text.push_back(tok::to_byte_level(std::string(1, static_cast<char>(b))));
    token_id.emplace(token_text.back(), b);
  }
  std::vector<Word> words;
  for (const auto& [bytes, count] : word_counts) {
    Word w;
    w.count = count;
    for (unsigned char c : bytes) w.symbols.push_back(c);
    words.push_back(std::move(w));
  }

  std::vector<std::pair<int32_t, int32_t>> merges;
  const int32_t learned_limit = vocab_size - added;
  std::map<std::pair<int32_t, int32_t>, int64_t> pair_counts;
  while (static_cast<int32_t>(token_text.size()) < learned_limit) {
    pair_counts.clear();
    for (const Word& w : words) {
      for (size_t i = 0; i + 1 < w.symbols.size(); ++i) pair_counts[{w.symbols[i], w.symbols[i + 1]}] += w.count;
    }
    // The most frequent pair; ties go to the pair whose texts sort first, independent of id order.
    const std::pair<int32_t, int32_t>* best = nullptr;
    int64_t best_count = 0;
    for (const auto& [pair, count] : pair_counts) {
      if (count > best_count ||
          (count == best_count && best &&
           std::tie(token_text[pair.first], token_text[pair.second]) <
               std::tie(token_text[best->first], token_text[best->second]))) {
        best = &pair;
        best_count = count;
      }
    }
    if (!best || best_count < 2) break;  // nothing left worth a token
    std::pair<int32_t, int32_t> merge = *best;
    std::string merged = token_text[merge.first] + token_text[merge.second];
    auto [it, inserted] = token_id.emplace(merged, static_cast<int32_t>(token_text.size()));
    if (inserted) token_text.push_back(merged);
    int32_t new_id = it->second;
    merges.push_back(merge);
    for (Word& w : words) {
      size_t out = 0;
      for (size_t i = 0; i < w.symbols.size(); ++i) {
        if (i + 1 < w.symbols.size() && w.symbols[i] == merge.first && w.symbols[i + 1] == merge.second) {
          w.symbols[out++] = new_id;
          ++i;
        } else {
          w.symbols[out++] = w.symbols[i];
        }
      }
      w.symbols.resize(out);
    }
  }

  ordered_json vocab = ordered_json::object();
  for (size_t i = 0; i < token_text.size(); ++i) vocab[token_text[i]] = static_cast<int32_t>(i);
  ordered_json merge_list = ordered_json::array();
  for (const auto& [a, b] : merges) merge_list.push_back(token_text[a] + " " + token_text[b]);
  ordered_json added_tokens = ordered_json::array();
  ordered_json added_decoder = ordered_json::object();
  for (int32_t i = 0; i < added; ++i) {
    int32_t id = static_cast<int32_t>(token_text.size()) + i;
    ordered_json entry = added_token_json(id, r1_added_tokens()[static_cast<size_t>(i)]);
    added_tokens.push_back(entry);
    entry.erase("id");
    added_decoder[std::to_string(id)] = entry;
  }

  ordered_json tokenizer = byte_level_bpe_json(added_tokens, vocab, merge_list);
  // The rendered prompt already starts with BOS (the chat template writes it), so encoding adds none.
  ordered_json config = {
      {"add_bos_token", false},
      {"add_eos_token", false},
      {"added_tokens_decoder", added_decoder},
      {"bos_token", kBos},
      {"clean_up_tokenization_spaces", false},
      {"eos_token", kEos},
      {"legacy", true},
      {"model_max_length", 4096},
      {"pad_token", kPad},
      {"tokenizer_class", "PreTrainedTokenizerFast"},
      {"chat_template", chat_template},
  };
  return {tokenizer.dump(2), config.dump(2)};
}

}  // namespace whale::train
