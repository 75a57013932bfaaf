// safetensors: the weight format of Hugging Face checkpoints. An 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the raw tensor bytes.
// whale reads single files and sharded checkpoints (model.safetensors.index.json) over memory maps.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace whale::safetensors {

// One .safetensors file. Tensor data stays in the memory map.
class File {
 public:
  // Opens and validates the header: JSON well-formed, every dtype supported (F32, F16, BF16, F8_E4M3),
  // shapes non-negative, data_offsets inside the data section and matching dtype x shape, no overlaps.
  // Throws whale::Error naming the file and the tensor at fault.
  static File open(const std::string& path, MappedFile::Residency residency = MappedFile::Residency::Map);

  const std::string& path() const { return map_->path(); }
  size_t file_size() const { return map_->size(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"

 private:
  std::shared_ptr<MappedFile> map_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a Hugging Face checkpoint folder: model.safetensors, or the shards named by
// model.safetensors.index.json, or (with neither) every *.safetensors file in the folder.
class Checkpoint {
 public:
  // Throws whale::Error when no weights are found, a shard is missing, the index names a tensor its shard
  // lacks, or two files hold the same tensor.
  static Checkpoint open(const std::string& folder,
                         MappedFile::Residency residency = MappedFile::Residency::Map);

  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(std::string_view name) const;
  // The file a tensor lives in, for error messages.
  const std::string& file_of(std::string_view name) const;
  const std::vector<File>& files() const { return files_; }
  uint64_t total_bytes() const;

 private:
  std::vector<File> files_;
  std::vector<TensorView> tensors_;
  std::vector<size_t> file_index_;  // per tensor: index into files_
  std::map<std::string, size_t, std::less<>> index_;
};

// The safetensors dtype string of a type ("BF16", "F8_E4M3"), as used in headers.
std::string_view dtype_string(DType type);

}  // namespace whale::safetensors
