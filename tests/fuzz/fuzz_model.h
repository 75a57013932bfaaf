// Shared by the fuzz targets that reach a whole model (gguf, safetensors): build it from a source and run it for
// two tokens, when its tensors are small enough for a fuzzing iteration.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "formats/model_source.h"
#include "models/model.h"

namespace whale::fuzz {

inline constexpr size_t kMaxModelBytes = size_t{8} << 20;

// Throws whale::Error when the model cannot be built; returns quietly for one over kMaxModelBytes.
inline void run_two_tokens(std::shared_ptr<const ModelSource> source) {
  static ThreadPool pool(1);
  if (source->tensor_bytes() > kMaxModelBytes) return;
  LoadOptions options;
  options.pool = &pool;
  options.max_batch_tokens = 2;
  std::unique_ptr<Model> model = load_model(std::move(source), options);
  const int64_t vocab = model->config().vocab_size;
  std::unique_ptr<KvCache> cache = model->create_cache(4);
  std::vector<float> logits(static_cast<size_t>(vocab));
  const std::vector<int32_t> tokens = {0, static_cast<int32_t>(vocab - 1)};
  model->forward(tokens, 0, *cache, logits);
}

}  // namespace whale::fuzz
