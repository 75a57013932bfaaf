// Finding a tokenizer behind a path given by the user: a tokenizer.json, a folder, or a GGUF file.
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "formats/model_source.h"
#include "tokenizer/tokenizer.h"

namespace whale {
namespace {

bool has_gguf_magic(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[4] = {};
  size_t n = std::fread(magic, 1, 4, f);
  std::fclose(f);
  return n == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F';
}

}  // namespace

Tokenizer Tokenizer::from_model(const ModelSource& model) {
  if (model.tokenizer_json()) {
    std::string source = (std::filesystem::path(model.path()) / "tokenizer.json").string();
    return from_hf_json(*model.tokenizer_json(), model.tokenizer_config_json().value_or(""), source);
  }
  return from_gguf(model.metadata());
}

Tokenizer Tokenizer::from_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // A Hugging Face folder carries tokenizer.json beside the weights; reading it needs no weights.
    if (fs::exists(fs::path(path) / "tokenizer.json", ec)) return from_hf_files(path);
    fail("{}: folder has no tokenizer.json", path);
  }
  if (!fs::exists(path, ec)) fail("{}: no such file or folder", path);
  if (has_gguf_magic(path)) return from_model(ModelSource::open(path));
  return from_hf_files(path);
}

}  // namespace whale
