// Fuzz target: the Hugging Face side of model loading. The first byte of the input chooses what the rest is:
//   0: a .safetensors file, opened and checked (every tensor's bytes inside the file and matching its dtype
//      and shape), a few rows of each tensor dequantized;
//   1: a config.json, parsed, translated into GGUF keys and read back as a model config, with the tensor
//      list that config implies;
//   2: a model folder: config.json, then model.safetensors.index.json (empty: none), then model.safetensors,
//      separated by kSeparator; opened as a ModelSource (tensor renaming, rope permutation, FP8
//      weights with their block scales, kv_b split, expert stacking), then built and run for two tokens.
// Anything wrong with the files must end in whale::Error; any other exception, a crash, a sanitizer report
// or a failed invariant is a bug.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/hf_config.h"
#include "formats/model_source.h"
#include "formats/safetensors.h"
#include "fuzz/fuzz_model.h"
#include "fuzz/fuzz_util.h"
#include "kernels/ref/quant.h"
#include "models/model.h"

namespace whale {
namespace {

constexpr std::string_view kSeparator = "\n#####\n";
constexpr int64_t kMaxDequantRows = 4;
constexpr int64_t kMaxDequantRowLength = int64_t{1} << 16;

void check_safetensors(const std::string& path) {
  safetensors::File file = safetensors::File::open(path);
  std::vector<float> row;
  for (const TensorView& t : file.tensors()) {
    if (file.find_tensor(t.name) != &t) fuzz::violated("File::find_tensor returns the tensor it lists");
    // Counted here without overflow: the element count times the element size is the tensor's byte count.
    uint64_t elements = 1;
    for (int64_t d : t.shape) {
      if (d < 0) fuzz::violated("a tensor's sizes are not negative");
      if (__builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements))
        fuzz::violated("a tensor's element count fits 64 bits");
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(elements, dtype_info(t.dtype).block_bytes, &bytes) || bytes != t.bytes)
      fuzz::violated("a tensor's bytes are its element count times the dtype's size");
    const int64_t length = t.row_length();
    if (t.bytes == 0 || length > kMaxDequantRowLength) continue;
    row.resize(static_cast<size_t>(length));
    const int64_t rows = std::min(t.rows(), kMaxDequantRows);
    for (int64_t r = 0; r < rows; ++r) {
      ref::dequantize_row(t.dtype, t.data + static_cast<size_t>(r * length) * dtype_info(t.dtype).block_bytes,
                          row.data(), length);
    }
  }
}

void check_config(const std::string& path) {
  const hf::Config config = hf::parse_config(path);
  gguf::Metadata metadata(path);
  hf::write_metadata(config, config.is_deepseek() ? config.num_nextn_predict_layers : 0, metadata);
  const ModelConfig model_config = parse_model_config(metadata);
  tensor_specs(model_config);
}

void load_folder(const std::string& folder, bool include_mtp) {
  ModelSource::Options source_options;
  source_options.include_mtp = include_mtp;
  auto source = std::make_shared<const ModelSource>(ModelSource::open(folder, source_options));
  for (const TensorView& t : source->tensors()) {
    if (source->find_tensor(t.name) != &t) fuzz::violated("ModelSource::find_tensor returns the tensor it lists");
  }
  fuzz::run_two_tokens(std::move(source));
}

}  // namespace
}  // namespace whale

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whale;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  static fuzz::MemoryFile file("fuzz.safetensors");
  static fuzz::ScratchFolder folder;
  try {
    switch (data[0] % 3) {
      case 0:
        check_safetensors(file.write(rest));
        break;
      case 1:
        check_config(file.write(rest));
        break;
      default: {
        folder.clear();
        const size_t config_end = std::min(rest.find(kSeparator), rest.size());
        folder.write("config.json", rest.substr(0, config_end));
        std::string_view after = rest.substr(std::min(config_end + kSeparator.size(), rest.size()));
        const size_t index_end = std::min(after.find(kSeparator), after.size());
        if (index_end > 0) folder.write("model.safetensors.index.json", after.substr(0, index_end));
        folder.write("model.safetensors", after.substr(std::min(index_end + kSeparator.size(), after.size())));
        load_folder(folder.path(), (data[0] & 0x80) != 0);
        break;
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
