// Fuzz target: a GGUF file, read the way `whale run` loads a model. The input is the whole file (held in a
// memfd, since the reader maps a path). After the reader come the loader's steps, each tried on its own so
// that a failure in one does not hide the next: every metadata value through every typed getter, the
// tokenizer built from the metadata and used, the chat template parsed and rendered, a few rows of every
// tensor dequantized, and the model config parsed, the model built and run for two tokens.
//
// Anything wrong with the file must end in whale::Error; any other exception, a crash, a sanitizer report
// or a failed invariant is a bug.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/model_source.h"
#include "fuzz/fuzz_model.h"
#include "fuzz/fuzz_util.h"
#include "kernels/ref/quant.h"
#include "models/model.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace whale {
namespace {

// Bounds on the work done per input, so that a large but valid file does not make one execution slow.
constexpr int64_t kMaxDequantRows = 4;
constexpr int64_t kMaxDequantRowLength = int64_t{1} << 16;
constexpr int32_t kMaxDecodedIds = 512;

template <typename Getter>
void try_get(Getter getter) {
  try {
    getter();
  } catch (const Error&) {
  }
}

// Every typed view of every value: what the loader's lookups do with keys it expects of one type.
void read_metadata(const gguf::Metadata& metadata) {
  for (const auto& entry : metadata.entries()) {
    const std::string& key = entry.first;
    (void)gguf::value_type_name(entry.second.type());
    if (metadata.find(key) != &entry.second) fuzz::violated("Metadata::find returns the entry it lists");
    try_get([&] { metadata.get_int(key); });
    try_get([&] { metadata.get_float(key); });
    try_get([&] { metadata.find_bool(key); });
    try_get([&] { metadata.get_string(key); });
    try_get([&] { metadata.get_string_array(key); });
    try_get([&] { metadata.get_int_array(key); });
    try_get([&] { metadata.get_float_array(key); });
  }
}

void dequantize_tensors(const std::vector<TensorView>& tensors) {
  std::vector<float> row;
  for (const TensorView& t : tensors) {
    const int64_t length = t.row_length();
    if (length > kMaxDequantRowLength) continue;
    row.resize(static_cast<size_t>(length));
    const size_t row_bytes = dtype_bytes(t.dtype, static_cast<uint64_t>(length));
    const int64_t rows = std::min(t.rows(), kMaxDequantRows);
    for (int64_t r = 0; r < rows; ++r) {
      ref::dequantize_row(t.dtype, t.data + static_cast<size_t>(r) * row_bytes, row.data(), length);
    }
  }
}

void use_tokenizer(const gguf::Metadata& metadata) {
  Tokenizer tokenizer;
  try {
    tokenizer = Tokenizer::from_gguf(metadata);
  } catch (const Error&) {
    return;
  }
  for (const char* text : {"Hello, world! 1234 + 5678 = ?", "  leading spaces\n\ttabs", "Grüße, 世界 🐋",
                           "<think>\nreasoning\n</think>\n\nanswer", "<s></s><|im_start|><|endoftext|>"}) {
    std::vector<int32_t> ids = tokenizer.encode(text, /*add_special=*/true);
    for (int32_t id : ids) {
      if (!tokenizer.is_valid_id(id)) fuzz::violated("encode returns ids inside the vocabulary");
    }
    tokenizer.decode(ids);
  }
  // Every id of a small vocabulary (the first ones of a large one), alone and streamed.
  const int32_t count = std::min(tokenizer.vocab_size(), kMaxDecodedIds);
  StreamingDetokenizer stream(tokenizer);
  std::string streamed;
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < count; ++id) {
    (void)tokenizer.token_bytes(id);
    (void)tokenizer.token_text(id);
    (void)tokenizer.is_special(id);
    stream.push(id, streamed);
    ids.push_back(id);
  }
  streamed += stream.finish();
  if (streamed != tokenizer.decode(ids)) fuzz::violated("streamed text equals decode of the whole sequence");
}

void render_chat_template(const gguf::Metadata& metadata) {
  try {
    const std::optional<std::string> source = metadata.find_string("tokenizer.chat_template");
    if (!source) return;
    ChatTemplate chat(*source, "<s>", "</s>", "tokenizer.chat_template");
    chat.set_limits({.max_output_bytes = size_t{1} << 20, .max_items = 10'000, .max_call_depth = 50,
                     .max_iterations = 100'000});
    const auto messages = nlohmann::ordered_json::parse(
        R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "<think>\nAdd.\n</think>\n\n4"}, {"role": "user", "content": "Why?"}])");
    chat.apply(messages, /*add_generation_prompt=*/true);
  } catch (const Error&) {
  }
}

void run_model(const std::string& path) {
  try {
    fuzz::run_two_tokens(std::make_shared<const ModelSource>(ModelSource::open(path)));
  } catch (const Error&) {
  }
}

}  // namespace
}  // namespace whale

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whale;
  static fuzz::MemoryFile file("fuzz.gguf");
  const std::string& path = file.write({reinterpret_cast<const char*>(data), size});
  std::unique_ptr<gguf::File> gguf_file;
  try {
    gguf_file = std::make_unique<gguf::File>(gguf::File::open(path));
  } catch (const Error&) {
    return 0;
  }
  for (const TensorView& t : gguf_file->tensors()) {
    if (gguf_file->find_tensor(t.name) != &t) fuzz::violated("File::find_tensor returns the tensor it lists");
    if (t.bytes != dtype_bytes(t.dtype, static_cast<uint64_t>(t.elements())))
      fuzz::violated("a tensor's bytes match its type and shape");
  }
  read_metadata(gguf_file->metadata());
  dequantize_tensors(gguf_file->tensors());
  use_tokenizer(gguf_file->metadata());
  render_chat_template(gguf_file->metadata());
  run_model(path);
  return 0;
}
