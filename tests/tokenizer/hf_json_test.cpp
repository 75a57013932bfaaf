// tokenizer.json / tokenizer_config.json that whale cannot use are refused with an error naming the field;
// split regexes are read from the file, and PCRE2 splits the way Hugging Face's Oniguruma does.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tiny_tokenizers.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/tokenizer.h"

namespace whale {
namespace {

using namespace whale::testing;
using nlohmann::json;

// Loading `tokenizer_json` fails with a message that contains `expected`.
void expect_error(const std::string& tokenizer_json, const std::string& expected, const std::string& config = "") {
  try {
    Tokenizer::from_hf_json(tokenizer_json, config, "dir/tokenizer.json");
    ADD_FAILURE() << "no error; expected one mentioning: " << expected;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

json tiny_json() { return json::parse(tiny_tokenizer_json()); }

TEST(HfJson, RefusesWhatItCannotRead) {
  expect_error("{not json", "dir/tokenizer.json: not valid JSON");
  expect_error("[]", "expected a JSON object");
  json j = tiny_json();
  j.erase("model");
  expect_error(j.dump(), "model: missing");

  j = tiny_json();
  j["model"]["type"] = "Unigram";
  expect_error(j.dump(), "model.type: whale supports BPE");

  j = tiny_json();
  j["model"]["merges"].push_back("a zz");
  expect_error(j.dump(), "model.merges[4]");

  j = tiny_json();
  j["model"]["merges"].push_back("a b c");
  expect_error(j.dump(), "model.merges[4]: expected \"left right\" with one space");

  j = tiny_json();
  j["model"]["vocab"]["big"] = 1 << 30;
  expect_error(j.dump(), "model.vocab[\"big\"]: token id 1073741824 is outside");

  j = tiny_json();
  j["model"]["vocab"]["far"] = 5000;  // 262 tokens, ids up to 5000
  expect_error(j.dump(), "model.vocab: largest id is 5000 but there are only 262 tokens");

  j = tiny_json();
  j["model"]["vocab"]["again"] = 97;
  expect_error(j.dump(), "model.vocab: id 97 belongs to both");

  j = tiny_json();
  j["added_tokens"][0]["id"] = -3;
  expect_error(j.dump(), "added_tokens[0].id: token id -3 is outside");

  j = tiny_json();
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_error(j.dump(), "normalizer type \"Lowercase\" is not supported");

  j = tiny_json();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", "\\s"}}}, {"behavior", "Removed"}},
                          {{"type", "ByteLevel"}}}}};
  expect_error(j.dump(), "pre_tokenizer.pretokenizers[0].behavior: only \"Isolated\"");

  j = tiny_json();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  expect_error(j.dump(), "no ByteLevel step");

  j = tiny_json();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}},
                          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  expect_error(j.dump(), "split regex does not compile");

  expect_error(tiny_tokenizer_json(), "bos_token: \"<nope>\" is not a token", R"({"bos_token": "<nope>"})");
  expect_error(tiny_tokenizer_json(), "add_bos_token: expected true or false", R"({"add_bos_token": "yes"})");
  expect_error(tiny_tokenizer_json(), "tokenizer_config.json: not valid JSON", "{");
}

TEST(HfJson, DigitsPreTokenizer) {
  // Digits splits digit runs off (or each digit alone); "a12" -> "a", "12" / "a", "1", "2", byte ids.
  json j = tiny_json();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Digits"}, {"individual_digits", true}},
                          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  j["added_tokens"] = json::array();
  j["model"]["vocab"]["12"] = 300;
  j["model"]["merges"].push_back("1 2");
  EXPECT_EQ(Tokenizer::from_hf_json(j.dump(), "").encode("a12"), (std::vector<int32_t>{'a', '1', '2'}));
  j["pre_tokenizer"]["pretokenizers"][0]["individual_digits"] = false;
  EXPECT_EQ(Tokenizer::from_hf_json(j.dump(), "").encode("a12"), (std::vector<int32_t>{'a', 300}));
}

TEST(HfJson, FilesAndFolders) {
  EXPECT_THROW(Tokenizer::from_hf_files("/nonexistent/tokenizer.json"), Error);
  EXPECT_THROW(Tokenizer::from_path("/nonexistent"), Error);
  auto dir = npm_tokenizer_dir("qwen3");
  if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "npm test packages not installed";
  Tokenizer folder = Tokenizer::from_path(dir.string());
  EXPECT_EQ(folder.eos_id(), 151645);  // <|im_end|>, from tokenizer_config.json beside it
  EXPECT_EQ(folder.encode("<|im_start|>user"), (std::vector<int32_t>{151644, 872}));
}

std::vector<std::string> split(const std::string& pattern, const std::string& text) {
  tok::PreTokenizer pre;
  pre.add_split(pattern, "test");
  std::vector<std::string_view> pieces, scratch;
  pre.split(text, pieces, scratch);
  return std::vector<std::string>(pieces.begin(), pieces.end());
}

TEST(PreTokenizer, Llama3PatternByHand) {
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  // "  123456": the first space is left for \s+(?!\S) (the second is followed by a digit), digits in threes.
  EXPECT_EQ(split(llama3, "Hello world's  123456"),
            (std::vector<std::string>{"Hello", " world", "'s", " ", " ", "123", "456"}));
  EXPECT_EQ(split(llama3, "WE'VE\r\n\r\nok"), (std::vector<std::string>{"WE", "'VE", "\r\n\r\n", "ok"}));
  // U+0085 NEXT LINE is whitespace for Oniguruma (and so for Hugging Face): "\u0085 \u0085" is one run.
  EXPECT_EQ(split(llama3, "\xc2\x85 \xc2\x85"), (std::vector<std::string>{"\xc2\x85 \xc2\x85"}));
  // One character that is neither letter, digit nor CR/LF may lead a word, whitespace or not.
  EXPECT_EQ(split(llama3, "a\xc2\x85" "b"), (std::vector<std::string>{"a", "\xc2\x85" "b"}));
}

TEST(PreTokenizer, IsolatedKeepsGapsAndEmptyMatchesCutNothing) {
  EXPECT_EQ(split("\\d+", "ab12cd3"), (std::vector<std::string>{"ab", "12", "cd", "3"}));
  EXPECT_EQ(split("x*", "abc"), (std::vector<std::string>{"abc"}));
  EXPECT_TRUE(split("\\d", "").empty());
}

TEST(PreTokenizer, GgufPresetsMatchTokenizerJsonPatterns) {
  for (const char* model : {"deepseek_v3", "qwen3", "llama3"}) {
    auto dir = npm_tokenizer_dir(model);
    if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "npm test packages not installed";
    Tokenizer t = Tokenizer::from_hf_files(dir.string());
    std::optional<std::string> pre = tok::gguf_pre_for_patterns(t.data().pre.patterns(), t.data().nfc);
    ASSERT_TRUE(pre.has_value()) << model;
    EXPECT_EQ(tok::preset_for_gguf_pre(*pre)->patterns, t.data().pre.patterns()) << model;
  }
}

}  // namespace
}  // namespace whale
