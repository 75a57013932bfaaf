// LoadedModel: everything `run`, `chat` and the server need from a model path, loaded once: the source
// (memory-mapped weights), the model, its tokenizer and its chat template.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "chat/chat_template.h"
#include "core/thread_pool.h"
#include "formats/model_source.h"
#include "models/model.h"
#include "runtime/process_memory.h"
#include "tokenizer/tokenizer.h"

namespace whale {

struct LoadedModel {
  std::shared_ptr<const ModelSource> source;
  std::unique_ptr<Model> model;
  Tokenizer tokenizer;
  std::optional<ChatTemplate> chat_template;  // absent when the model ships none
  // The memory available before the weights were read in (for the memory check at load: weights copied
  // into huge pages are already taken out of the figure available_memory() gives afterwards).
  AvailableMemory available_before_load;
};

struct LoadModelOptions {
  ThreadPool* pool = nullptr;     // required
  int64_t max_batch_tokens = 256;
  // Read every weight page once while showing a progress bar on stderr, so the first tokens do not stall
  // on page faults. Only when stderr is a terminal and the weights are large.
  bool prefetch_with_progress = true;
  // Use the weights from the file's memory map (4 KiB pages) instead of copying them into huge pages
  // (core/mapped_file.h). The copy is also skipped when the files take more than 3/4 of the available memory.
  bool map_weights = false;
};

// How inference opens `path`: weights copied into huge pages unless `map_weights` or the files take more
// than 3/4 of `available` (then they are used from the memory map).
ModelSource::Options inference_source_options(const std::string& path, bool map_weights,
                                              const AvailableMemory& available);

// Opens a .gguf file or a Hugging Face folder. Throws whale::Error naming the file and what is wrong.
LoadedModel load_model_from_path(const std::string& path, const LoadModelOptions& options);

}  // namespace whale
