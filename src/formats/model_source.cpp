// ModelSource for GGUF files, and the parts shared with Hugging Face folders (see model_source.h; the HF
// translation lives in hf_loader.cpp).
#include "formats/model_source.h"

#include <filesystem>

#include "core/error.h"
#include "formats/hf_loader.h"

namespace whale {

ModelSource ModelSource::open(const std::string& path, const Options& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return HfLoader::load(path, options);
  if (!std::filesystem::exists(path, ec)) {
    fail("{}: no such file or folder (expected a .gguf file or a Hugging Face model folder)", path);
  }
  auto file = std::make_shared<gguf::File>(gguf::File::open(path));
  ModelSource source;
  source.kind_ = Kind::Gguf;
  source.path_ = path;
  source.metadata_ = file->metadata();
  source.tensors_ = file->tensors();
  for (size_t i = 0; i < source.tensors_.size(); ++i) source.tensor_index_.emplace(source.tensors_[i].name, i);
  source.file_bytes_ = file->file_size();
  source.chat_template_ = source.metadata_.find_string("tokenizer.chat_template");
  if (!source.metadata_.has("general.architecture")) fail("{}: key general.architecture: missing", path);
  source.metadata_.get_string("general.architecture");  // present and a string
  source.keep_alive_ = std::move(file);
  return source;
}

const TensorView* ModelSource::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& ModelSource::tensor(std::string_view name) const {
  const TensorView* t = find_tensor(name);
  if (t == nullptr) fail("{}: tensor {}: missing", path_, name);
  return *t;
}

uint64_t ModelSource::tensor_bytes() const {
  uint64_t total = 0;
  for (const TensorView& t : tensors_) total += t.bytes;
  return total;
}

}  // namespace whale
