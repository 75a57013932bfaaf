// Tokenizers written into GGUF metadata (add_tokenizer_to_gguf) and read back (Tokenizer::from_gguf) encode
// exactly as the tokenizer.json they came from: on the tiny hand-made tokenizer, and on the real DeepSeek-V3,
// Qwen3 and Llama 3 files (through a written and re-read GGUF file) over the whole test corpus.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tiny_tokenizers.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer.h"

namespace whale {
namespace {

using namespace whale::testing;
using Ids = std::vector<int32_t>;

std::vector<std::string> corpus_documents() {
  std::vector<std::string> docs;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir())) {
    if (entry.path().extension() != ".txt") continue;
    std::string text = read_text_file(entry.path().string());
    // Paragraphs, so that a mismatch points at a small piece of text.
    for (size_t start = 0; start < text.size();) {
      size_t end = text.find("\n\n", start);
      end = end == std::string::npos ? text.size() : end + 2;
      docs.push_back(text.substr(start, end - start));
      start = end;
    }
  }
  auto crafted = nlohmann::json::parse(read_text_file((corpus_dir() / "crafted.json").string()));
  for (const auto& doc : crafted) docs.push_back(doc.get<std::string>());
  return docs;
}

TEST(GgufVocab, TinyTokenizerKeys) {
  gguf::Metadata md;
  md.set_string("general.architecture", "llama");
  md.set_uint32("llama.vocab_size", 300);
  add_tokenizer_to_gguf(tiny_tokenizer_json(), tiny_tokenizer_config(), md);
  EXPECT_EQ(md.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), "gpt-2");
  std::vector<std::string> tokens = md.get_string_array("tokenizer.ggml.tokens");
  std::vector<int64_t> types = md.get_int_array("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.size(), 300u);  // padded to the model's vocab_size
  EXPECT_EQ(tokens[' '], "\xc4\xa0");
  EXPECT_EQ(tokens[kAb], "ab");
  EXPECT_EQ(tokens[kMarker], "<|x|>");
  EXPECT_EQ(tokens[299], "[PAD299]");
  EXPECT_EQ(types['a'], 1);           // normal
  EXPECT_EQ(types[kBos], 3);          // control: special
  EXPECT_EQ(types[kMarkerPrefix], 4); // user-defined: not special
  EXPECT_EQ(types[kStrip], 4);
  EXPECT_EQ(types[299], 5);           // unused
  EXPECT_EQ(md.get_string_array("tokenizer.ggml.merges"),
            (std::vector<std::string>{"b c", "a b", "a bc", "a a"}));
  EXPECT_EQ(md.get_int("tokenizer.ggml.bos_token_id"), kBos);
  EXPECT_EQ(md.get_int("tokenizer.ggml.eos_token_id"), kMarker);
  EXPECT_EQ(md.find_bool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_EQ(md.find_bool("tokenizer.ggml.add_eos_token"), false);

  Tokenizer t = Tokenizer::from_gguf(md);
  EXPECT_EQ(t.vocab_size(), 300);
  EXPECT_EQ(t.encode("abcab aaa <|x|>xyz", true), (Ids{kBos, kAbc, kAb, ' ', kAa, 'a', ' ', kMarker, 'x', 'y', 'z'}));
  EXPECT_EQ(t.decode(Ids{kAbc, ' ', kMarker}), "abc <|x|>");
}

TEST(GgufVocab, UnsupportedPreTokenizerIsAnError) {
  auto json = nlohmann::json::parse(tiny_tokenizer_json());
  json["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers",
                            {{{"type", "Split"}, {"pattern", {{"Regex", "\\d"}}}, {"behavior", "Isolated"}},
                             {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  gguf::Metadata md;
  EXPECT_THROW(add_tokenizer_to_gguf(json.dump(), "", md), Error);
  // whale itself reads such a tokenizer.json fine: "12a" -> "1", "2", "a".
  EXPECT_EQ(Tokenizer::from_hf_json(json.dump(), "").encode("12a"), (Ids{'1', '2', 'a'}));
}

TEST(GgufVocab, UnknownGgufPreTokenizerIsAnError) {
  gguf::Metadata md;
  add_tokenizer_to_gguf(tiny_tokenizer_json(), "", md);
  md.set_string("tokenizer.ggml.pre", "no-such-pre");
  try {
    Tokenizer::from_gguf(md);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.pre"), std::string::npos) << e.what();
  }
  md.set_string_array("tokenizer.ggml.merges", {"a zz"});
  md.set_string("tokenizer.ggml.pre", "gpt-2");
  EXPECT_THROW(Tokenizer::from_gguf(md), Error);
  md.set_int32_array("tokenizer.ggml.token_type", {1, 2, 3});
  EXPECT_THROW(Tokenizer::from_gguf(md), Error);
}

class RealTokenizerGguf : public ::testing::TestWithParam<const char*> {};

TEST_P(RealTokenizerGguf, EncodesLikeTokenizerJson) {
  auto dir = npm_tokenizer_dir(GetParam());
  if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "npm test packages not installed";
  std::string json = read_text_file((dir / "tokenizer.json").string());
  std::string config = read_text_file((dir / "tokenizer_config.json").string());
  Tokenizer hf = Tokenizer::from_hf_json(json, config);

  gguf::Writer writer;
  writer.metadata().set_string("general.architecture", "llama");
  add_tokenizer_to_gguf(json, config, writer.metadata());
  auto path = std::filesystem::temp_directory_path() / (std::string("whale-vocab-") + GetParam() + ".gguf");
  writer.write(path.string());
  gguf::File file = gguf::File::open(path.string());
  std::filesystem::remove(path);
  Tokenizer from_gguf = Tokenizer::from_gguf(file.metadata());

  EXPECT_EQ(from_gguf.vocab_size(), hf.vocab_size());
  EXPECT_EQ(from_gguf.bos_id(), hf.bos_id());
  EXPECT_EQ(from_gguf.eos_id(), hf.eos_id());
  EXPECT_EQ(from_gguf.add_bos(), hf.add_bos());
  size_t documents = 0, tokens = 0;
  for (const std::string& doc : corpus_documents()) {
    Ids expected = hf.encode(doc, true);
    Ids got = from_gguf.encode(doc, true);
    ASSERT_EQ(got, expected) << GetParam() << ": " << doc.substr(0, 80);
    ASSERT_EQ(from_gguf.decode(got), hf.decode(expected));
    ++documents;
    tokens += got.size();
  }
  EXPECT_GT(documents, 1000u);
  std::printf("%s: %zu documents, %zu tokens identical\n", GetParam(), documents, tokens);
}

INSTANTIATE_TEST_SUITE_P(Models, RealTokenizerGguf, ::testing::Values("deepseek_v3", "qwen3", "llama3"));

TEST(GgufVocab, RealTokenizerKeys) {
  // The pre-tokenizer names llama.cpp gives these split regexes, and the type of one added token each:
  // DeepSeek's <｜User｜> is not special in tokenizer.json but looks like a control token; Qwen's <think> is
  // a plain added (user-defined) token.
  struct Case {
    const char* model;
    const char* pre;
    const char* token;
    int type;
  };
  const Case cases[] = {{"deepseek_v3", "deepseek-v3", "<\xef\xbd\x9cUser\xef\xbd\x9c>", 3},
                        {"qwen3", "qwen2", "<think>", 4},
                        {"llama3", "llama-bpe", "<|eot_id|>", 3}};
  for (const Case& c : cases) {
    auto dir = npm_tokenizer_dir(c.model);
    if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "npm test packages not installed";
    gguf::Metadata md;
    add_tokenizer_to_gguf(read_text_file((dir / "tokenizer.json").string()), "", md);
    EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), c.pre) << c.model;
    std::vector<std::string> tokens = md.get_string_array("tokenizer.ggml.tokens");
    auto it = std::find(tokens.begin(), tokens.end(), c.token);
    ASSERT_NE(it, tokens.end()) << c.model;
    EXPECT_EQ(md.get_int_array("tokenizer.ggml.token_type")[static_cast<size_t>(it - tokens.begin())], c.type);
  }
}

}  // namespace
}  // namespace whale
