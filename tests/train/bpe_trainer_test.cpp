// Tests of the BPE trainer: merges on a corpus small enough to count by hand, determinism, round trips
// through whale's Tokenizer, digit-by-digit numbers, and that the GGUF export reads it as llama.cpp's "qwen2".
#include "train/bpe_trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer.h"
#include "train/chat_format.h"

namespace whale::train {
namespace {

TEST(BpeTrainer, HandCountedMerges) {
  // Words: "ab" once, " ab" twice, " cd" once. Pair counts: (a,b) 3, (Ġ,a) 2, others 1 -> merge "a b"; then
  // (Ġ,ab) 2 -> merge "Ġ ab"; every remaining pair occurs once, so training stops below the vocab limit.
  TrainedTokenizer t = train_bpe({"ab ab ab cd"}, 300, "");
  nlohmann::json j = nlohmann::json::parse(t.tokenizer_json);
  EXPECT_EQ(j["model"]["merges"], nlohmann::json::array({"a b", "Ġ ab"}));
  EXPECT_EQ(j["model"]["vocab"]["ab"], 256);
  EXPECT_EQ(j["model"]["vocab"]["Ġab"], 257);
  EXPECT_EQ(j["model"]["vocab"]["a"], 'a');
  EXPECT_EQ(j["added_tokens"][0]["id"], 258);
  EXPECT_EQ(j["added_tokens"][0]["content"], "<｜begin▁of▁sentence｜>");
  Tokenizer tok = Tokenizer::from_hf_json(t.tokenizer_json, t.tokenizer_config_json);
  // Byte ids are the byte values.
  EXPECT_EQ(tok.encode("ab ab cd"), (std::vector<int32_t>{256, 257, ' ', 'c', 'd'}));
}

TEST(BpeTrainer, VocabSizeIsRespected) {
  TrainedTokenizer t = train_bpe(task_corpus(all_tasks(), 300, 1), 320, r1_chat_template());
  Tokenizer tok = Tokenizer::from_hf_json(t.tokenizer_json, t.tokenizer_config_json);
  EXPECT_EQ(tok.vocab_size(), 320);
  EXPECT_EQ(tok.bos_id(), 320 - 7);
  EXPECT_EQ(tok.eos_id(), 320 - 6);
  EXPECT_EQ(tok.token_id("</think>"), 318);
  EXPECT_TRUE(tok.is_special(tok.eos_id()));
  EXPECT_FALSE(tok.is_special(*tok.token_id("<think>")));
  EXPECT_THROW(train_bpe({"x"}, 100, ""), Error);
}

TEST(BpeTrainer, Deterministic) {
  std::vector<std::string> corpus = task_corpus({Task::Addition, Task::Countdown}, 100, 3);
  TrainedTokenizer a = train_bpe(corpus, 400, "t"), b = train_bpe(corpus, 400, "t");
  EXPECT_EQ(a.tokenizer_json, b.tokenizer_json);
  EXPECT_EQ(a.tokenizer_config_json, b.tokenizer_config_json);
}

TEST(BpeTrainer, RoundTripsTextAndSplitsDigits) {
  std::vector<std::string> corpus = task_corpus(all_tasks(), 300, 1);
  TrainedTokenizer t = train_bpe(corpus, 500, r1_chat_template());
  Tokenizer tok = Tokenizer::from_hf_json(t.tokenizer_json, t.tokenizer_config_json);
  for (size_t i = 0; i < corpus.size(); i += 7) EXPECT_EQ(tok.decode(tok.encode(corpus[i])), corpus[i]);
  // Text the corpus never had falls back to bytes and still round-trips.
  for (std::string s : {"héllo wörld 😀 ¿qué?", "tabs\tand\r\nCRLF  ", "日本語"}) EXPECT_EQ(tok.decode(tok.encode(s)), s);
  std::vector<int32_t> ids = tok.encode("4821");
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(tok.decode(std::vector<int32_t>{ids[1]}), "8");
  // The task text compresses: fewer tokens than bytes.
  size_t bytes = 0, tokens = 0;
  for (const std::string& s : corpus) bytes += s.size(), tokens += tok.encode(s).size();
  // (Mostly digits, which stay single tokens; the words merge whole.)
  EXPECT_LT(static_cast<double>(tokens), 0.9 * static_cast<double>(bytes));
  EXPECT_EQ(tok.encode("What is").size(), 2u);
  EXPECT_EQ(tok.encode(" calculate").size(), 1u);
}

TEST(BpeTrainer, GgufExportIsQwen2) {
  TrainedTokenizer t = train_bpe(task_corpus(all_tasks(), 100, 1), 400, r1_chat_template());
  gguf::Metadata meta("test");
  add_tokenizer_to_gguf(t.tokenizer_json, t.tokenizer_config_json, meta);
  EXPECT_EQ(meta.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(meta.get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(meta.get_string("tokenizer.chat_template"), r1_chat_template());
  Tokenizer from_json = Tokenizer::from_hf_json(t.tokenizer_json, t.tokenizer_config_json);
  Tokenizer from_gguf = Tokenizer::from_gguf(meta);
  std::string text = "<｜begin▁of▁sentence｜><｜User｜>What is 4821 + 3907?<｜Assistant｜><think>\n1+7+0=8\n</think>\n\n8728";
  EXPECT_EQ(from_gguf.encode(text), from_json.encode(text));
  EXPECT_EQ(from_gguf.eos_id(), from_json.eos_id());
}

TEST(BpeTrainer, RebuiltFromGgufTokenizesTheSame) {
  TrainedTokenizer t = train_bpe(task_corpus(all_tasks(), 100, 1), 400, r1_chat_template());
  gguf::Writer writer;
  writer.metadata().set_string("general.architecture", "qwen2");
  writer.metadata().set_uint32("qwen2.vocab_size", 410);  // padded rows, as a model's embedding may have
  add_tokenizer_to_gguf(t.tokenizer_json, t.tokenizer_config_json, writer.metadata());
  std::string path = (std::filesystem::temp_directory_path() / "whale-bpe-rebuild-test.gguf").string();
  writer.write(path);
  TrainedTokenizer back = tokenizer_from_gguf(path);
  std::filesystem::remove(path);
  Tokenizer original = Tokenizer::from_hf_json(t.tokenizer_json, t.tokenizer_config_json);
  Tokenizer rebuilt = Tokenizer::from_hf_json(back.tokenizer_json, back.tokenizer_config_json);
  EXPECT_EQ(rebuilt.vocab_size(), original.vocab_size());
  EXPECT_EQ(rebuilt.bos_id(), original.bos_id());
  EXPECT_EQ(rebuilt.eos_id(), original.eos_id());
  for (const std::string& text : task_corpus(all_tasks(), 20, 9)) EXPECT_EQ(rebuilt.encode(text), original.encode(text));
  std::string chat = "<｜begin▁of▁sentence｜><｜User｜>héllo 17×23<｜Assistant｜><think>\nx\n</think>\n\n391";
  EXPECT_EQ(rebuilt.encode(chat), original.encode(chat));
  EXPECT_EQ(chat_template_of(back, "rebuilt").source(), r1_chat_template());
}

}  // namespace
}  // namespace whale::train
