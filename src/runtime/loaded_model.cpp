// Loading a model with its tokenizer and chat template (see loaded_model.h).
#include "runtime/loaded_model.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/error.h"

namespace whale {
namespace {

constexpr uint64_t kPrefetchMinBytes = uint64_t{256} << 20;
constexpr size_t kPage = 4096;

// Touches one byte per page of every tensor so the kernel reads the weights in, drawing a progress bar.
void prefetch(const ModelSource& source) {
  uint64_t total = 0;
  for (const TensorView& t : source.tensors()) total += t.bytes;
  if (total < kPrefetchMinBytes) return;
  uint64_t done = 0;
  int shown = -1;
  volatile uint8_t sink = 0;
  for (const TensorView& t : source.tensors()) {
    for (size_t off = 0; off < t.bytes; off += kPage) sink = static_cast<uint8_t>(sink + t.data[off]);
    done += t.bytes;
    const int percent = static_cast<int>(done * 100 / total);
    if (percent != shown) {
      shown = percent;
      const int bar = percent * 30 / 100;
      std::fprintf(stderr, "\rloading %s [%.*s%*s] %3d%%", source.path().c_str(), bar, "==============================",
                   30 - bar, "", percent);
      std::fflush(stderr);
    }
  }
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

// Bytes of the files holding the weights: the .gguf file, or the .safetensors files of a folder.
uint64_t weight_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    const uintmax_t size = std::filesystem::file_size(path, ec);
    return ec ? 0 : size;
  }
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (entry.path().extension() == ".safetensors") total += entry.file_size(ec);
  }
  return total;
}

}  // namespace

ModelSource::Options inference_source_options(const std::string& path, bool map_weights,
                                              const AvailableMemory& available) {
  ModelSource::Options open;
  const bool fits = available.bytes == 0 || weight_file_bytes(path) <= available.bytes / 4 * 3;
  open.residency = !map_weights && fits ? MappedFile::Residency::HugePageCopy : MappedFile::Residency::Map;
  return open;
}

LoadedModel load_model_from_path(const std::string& path, const LoadModelOptions& options) {
  WHALE_ASSERT(options.pool != nullptr);
  const AvailableMemory available = available_memory();
  const ModelSource::Options open = inference_source_options(path, options.map_weights, available);
  auto source = std::make_shared<const ModelSource>(ModelSource::open(path, open));
  Tokenizer tokenizer = source->tokenizer_json()
                            ? Tokenizer::from_hf_json(*source->tokenizer_json(),
                                                      source->tokenizer_config_json().value_or(""), path)
                            : Tokenizer::from_gguf(source->metadata());
  std::optional<ChatTemplate> chat_template;
  if (source->chat_template()) {
    auto token_text = [&](int32_t id) { return id >= 0 ? tokenizer.token_text(id) : std::string(); };
    chat_template.emplace(*source->chat_template(), token_text(tokenizer.bos_id()), token_text(tokenizer.eos_id()),
                          path + ": chat template");
  }
  if (open.residency == MappedFile::Residency::Map && options.prefetch_with_progress && isatty(STDERR_FILENO)) {
    prefetch(*source);
  }
  LoadOptions load;
  load.pool = options.pool;
  load.max_batch_tokens = options.max_batch_tokens;
  std::unique_ptr<Model> model = load_model(source, load);
  if (model->config().vocab_size < tokenizer.vocab_size()) {
    fail("{}: the tokenizer has {} tokens but the model's vocabulary only {}", path, tokenizer.vocab_size(),
         model->config().vocab_size);
  }
  return LoadedModel{std::move(source), std::move(model), std::move(tokenizer), std::move(chat_template), available};
}

}  // namespace whale
