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
#include "tokenizer/tokenizer.h"

namespace whale {

struct LoadedModel {
  std::shared_ptr<const ModelSource> source;
  std::unique_ptr<Model> model;
  Tokenizer tokenizer;
  std::optional<ChatTemplate> chat_template;  // absent when the model ships none
};

struct LoadModelOptions {
  ThreadPool* pool = nullptr;     // required
  int64_t max_batch_tokens = 256;
  // Read every weight page once while showing a progress bar on stderr, so the first tokens do not stall
  // on page faults. Only when stderr is a terminal and the weights are large.
  bool prefetch_with_progress = true;
};

// Opens a .gguf file or a Hugging Face folder. Throws whale::Error naming the file and what is wrong.
LoadedModel load_model_from_path(const std::string& path, const LoadModelOptions& options);

}  // namespace whale
