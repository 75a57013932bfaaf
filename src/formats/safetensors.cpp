// safetensors reader (see safetensors.h). The JSON header is validated entry by entry before any tensor is
// exposed: a malformed or hostile header ends in a whale::Error naming the file and the tensor.
#include "formats/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <set>

#include "core/error.h"

namespace whale::safetensors {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;  // the reference implementation's limit

struct DtypeName {
  std::string_view name;
  DType type;
};
constexpr DtypeName kDtypes[] = {
    {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F8_E4M3", DType::F8_E4M3}};

std::optional<DType> parse_dtype(std::string_view name) {
  for (const DtypeName& d : kDtypes) {
    if (d.name == name) return d.type;
  }
  return std::nullopt;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::string_view dtype_string(DType type) {
  for (const DtypeName& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  return "?";
}

File File::open(const std::string& path, MappedFile::Residency residency) {
  File file;
  file.map_ = std::make_shared<MappedFile>(path, residency);
  const uint64_t size = file.map_->size();
  if (size < 8) fail("{}: truncated: expected an 8-byte header length, the file has {} bytes", path, size);
  const uint64_t header_bytes = read_u64_le(file.map_->data());
  if (header_bytes > size - 8 || header_bytes > kMaxHeaderBytes) {
    fail("{}: header length {} is larger than the file ({} bytes) or the 100 MB limit: not a safetensors file?",
         path, header_bytes, size);
  }
  const char* header_begin = reinterpret_cast<const char*>(file.map_->data() + 8);
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_bytes);
  } catch (const json::exception& e) {
    fail("{}: header is not valid JSON: {}", path, e.what());
  }
  if (!header.is_object()) fail("{}: header: expected a JSON object", path);

  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_size = size - data_start;
  struct Range {
    uint64_t begin, end;
    size_t tensor;
  };
  std::vector<Range> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("{}: __metadata__: expected an object of strings", path);
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) fail("{}: __metadata__.{}: expected a string", path, key);
        file.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) fail("{}: tensor {}: expected an object with dtype, shape, data_offsets", path, name);
    TensorView t;
    t.name = name;
    const auto dtype_it = entry.find("dtype");
    if (dtype_it == entry.end() || !dtype_it->is_string()) fail("{}: tensor {}: missing dtype", path, name);
    const auto dtype = parse_dtype(dtype_it->get<std::string>());
    if (!dtype) {
      fail("{}: tensor {}: unsupported dtype {} (expected F32, F16, BF16 or F8_E4M3)", path, name,
           dtype_it->get<std::string>());
    }
    t.dtype = *dtype;
    const auto shape_it = entry.find("shape");
    if (shape_it == entry.end() || !shape_it->is_array() || shape_it->size() > 8) {
      fail("{}: tensor {}: expected shape to be an array of at most 8 sizes", path, name);
    }
    // At most 2^60 elements, so that their bytes (at most 4 per element) cannot overflow 64 bits; each size
    // too, even after a zero, so that it fits Shape's int64.
    constexpr uint64_t kMaxElements = uint64_t{1} << 60;
    uint64_t elements = 1;
    for (const json& d : *shape_it) {
      if (!d.is_number_unsigned()) fail("{}: tensor {}: shape {}: expected non-negative integers", path, name, shape_it->dump());
      const uint64_t dim = d.get<uint64_t>();
      if (dim > kMaxElements || (dim != 0 && elements > kMaxElements / dim)) {
        fail("{}: tensor {}: shape {} has too many elements", path, name, shape_it->dump());
      }
      elements *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto offsets_it = entry.find("data_offsets");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
      fail("{}: tensor {}: expected data_offsets [begin, end]", path, name);
    }
    const uint64_t begin = (*offsets_it)[0].get<uint64_t>();
    const uint64_t end = (*offsets_it)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      fail("{}: tensor {}: data_offsets [{}, {}] lie outside the data section of {} bytes", path, name, begin,
           end, data_size);
    }
    const uint64_t expected = elements * dtype_info(t.dtype).block_bytes;
    if (end - begin != expected) {
      fail("{}: tensor {}: data_offsets [{}, {}] hold {} bytes, but {} {} needs {}", path, name, begin, end,
           end - begin, dtype_string(t.dtype), shape_string(t.shape), expected);
    }
    t.bytes = static_cast<size_t>(expected);
    t.data = file.map_->data() + data_start + begin;
    ranges.push_back({begin, end, file.tensors_.size()});
    file.index_.emplace(t.name, file.tensors_.size());
    file.tensors_.push_back(std::move(t));
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end) {
      fail("{}: tensor {}: data overlaps tensor {}", path, file.tensors_[ranges[i].tensor].name,
           file.tensors_[ranges[i - 1].tensor].name);
    }
  }
  return file;
}

const TensorView* File::find_tensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Checkpoint Checkpoint::open(const std::string& folder, MappedFile::Residency residency) {
  namespace fs = std::filesystem;
  Checkpoint ck;
  const fs::path dir(folder);
  const fs::path index_path = dir / "model.safetensors.index.json";
  std::vector<std::string> shard_names;
  json weight_map;
  if (fs::exists(index_path)) {
    json index;
    try {
      index = json::parse(read_text_file(index_path.string()));
    } catch (const json::exception& e) {
      fail("{}: not valid JSON: {}", index_path.string(), e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      fail("{}: expected an object with a weight_map object", index_path.string());
    }
    weight_map = index["weight_map"];
    std::set<std::string> seen;
    for (const auto& [tensor, shard] : weight_map.items()) {
      if (!shard.is_string()) fail("{}: weight_map.{}: expected a file name", index_path.string(), tensor);
      const std::string s = shard.get<std::string>();
      if (s.empty() || s.find('/') != std::string::npos || s.find('\\') != std::string::npos || s == "." ||
          s == "..") {
        fail("{}: weight_map.{}: expected a file name in the same folder, got \"{}\"", index_path.string(),
             tensor, s);
      }
      if (seen.insert(s).second) shard_names.push_back(s);
    }
    std::sort(shard_names.begin(), shard_names.end());
  } else if (fs::exists(dir / "model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".safetensors") shard_names.push_back(entry.path().filename().string());
    }
    std::sort(shard_names.begin(), shard_names.end());
  }
  if (shard_names.empty()) {
    fail("{}: no weights: expected model.safetensors, model.safetensors.index.json or *.safetensors", folder);
  }
  for (const std::string& name : shard_names) {
    const fs::path shard = dir / name;
    if (!fs::exists(shard)) fail("{}: shard {} named by the index is missing", folder, name);
    ck.files_.push_back(File::open(shard.string(), residency));
  }
  for (size_t f = 0; f < ck.files_.size(); ++f) {
    for (const TensorView& t : ck.files_[f].tensors()) {
      if (ck.index_.count(t.name) != 0) {
        fail("{}: tensor {} is in both {} and {}", folder, t.name, ck.files_[ck.file_index_[ck.index_[t.name]]].path(),
             ck.files_[f].path());
      }
      ck.index_.emplace(t.name, ck.tensors_.size());
      ck.tensors_.push_back(t);
      ck.file_index_.push_back(f);
    }
  }
  for (const auto& [tensor, shard] : weight_map.items()) {
    const TensorView* t = ck.find_tensor(tensor);
    const std::string s = shard.get<std::string>();
    if (t == nullptr || fs::path(ck.file_of(tensor)).filename() != s) {
      fail("{}: tensor {}: the index places it in {}, but that file does not hold it", folder, tensor, s);
    }
  }
  return ck;
}

const TensorView* Checkpoint::find_tensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const std::string& Checkpoint::file_of(std::string_view name) const {
  auto it = index_.find(name);
  WHALE_ASSERT(it != index_.end());
  return files_[file_index_[it->second]].path();
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t total = 0;
  for (const File& f : files_) total += f.file_size();
  return total;
}

}  // namespace whale::safetensors
