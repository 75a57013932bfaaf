// Training checkpoints as GGUF files: the model config keys, train.step, the caller's opaque state (hex in
// train.blob), AdamW's step count, and per parameter its value, first moment (opt.m.NAME) and second moment
// (opt.v.NAME) in F32. The GGUF reader validates the file; every tensor is checked against the network.
#include <cstring>

#include "core/error.h"
#include "train/network.h"

namespace whale::train {
namespace {

std::string to_hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string from_hex(const std::string& path, const std::string& hex) {
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    fail("{}: key train.blob: expected hex digits, got '{}'", path, c);
  };
  if (hex.size() % 2 != 0) fail("{}: key train.blob: odd number of hex digits", path);
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  return out;
}

void add_f32(gguf::Writer& writer, const std::string& name, const Shape& shape, const std::vector<float>& values) {
  writer.add_tensor_ref(name, DType::F32, shape, reinterpret_cast<const uint8_t*>(values.data()),
                        values.size() * sizeof(float));
}

void read_f32(const gguf::File& file, const std::string& name, const Shape& shape, std::vector<float>& out) {
  const TensorView* t = file.find_tensor(name);
  if (t == nullptr) fail("{}: tensor {}: missing (the checkpoint is of another model)", file.path(), name);
  if (t->dtype != DType::F32) fail("{}: tensor {}: expected type f32, got {}", file.path(), name, dtype_name(t->dtype));
  if (t->shape != shape) {
    fail("{}: tensor {}: expected shape {}, got {}", file.path(), name, shape_string(shape), shape_string(t->shape));
  }
  WHALE_ASSERT(t->bytes == out.size() * sizeof(float));
  std::memcpy(out.data(), t->data, t->bytes);
}

}  // namespace

void save_checkpoint(const std::string& path, const Network& network, const AdamW& optimizer, int64_t step,
                     const std::string& blob) {
  gguf::Writer writer;
  write_model_config(network.config(), writer.metadata());
  writer.metadata().set_string("general.type", "whale-train-checkpoint");
  writer.metadata().set("train.step", gguf::Value{static_cast<int64_t>(step)});
  writer.metadata().set("train.adam_t", gguf::Value{static_cast<int64_t>(optimizer.t_)});
  writer.metadata().set_string("train.blob", to_hex(blob));
  const std::vector<Parameter>& params = network.parameters();
  WHALE_ASSERT(optimizer.m_.size() == params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    add_f32(writer, params[i].name, params[i].shape, params[i].value);
    add_f32(writer, "opt.m." + params[i].name, params[i].shape, optimizer.m_[i]);
    add_f32(writer, "opt.v." + params[i].name, params[i].shape, optimizer.v_[i]);
  }
  writer.write(path);
}

int64_t load_checkpoint(const std::string& path, Network& network, AdamW& optimizer, std::string& blob) {
  const gguf::File file = gguf::File::open(path);
  const gguf::Metadata& md = file.metadata();
  if (md.find_string("general.type").value_or("") != "whale-train-checkpoint") {
    fail("{}: key general.type: expected 'whale-train-checkpoint' (a file written by whale train)", path);
  }
  const ModelConfig config = parse_model_config(md);
  const ModelConfig& mine = network.config();
  if (config.arch != mine.arch || config.hidden_size != mine.hidden_size || config.block_count != mine.block_count ||
      config.vocab_size != mine.vocab_size) {
    fail(
        "{}: the checkpoint is of another model ({} hidden {} blocks {} vocab {}; expected {} hidden {} blocks {} "
        "vocab {})",
        path, config.arch, config.hidden_size, config.block_count, config.vocab_size, mine.arch, mine.hidden_size,
        mine.block_count, mine.vocab_size);
  }
  const int64_t step = md.get_int("train.step");
  const int64_t adam_t = md.get_int("train.adam_t");
  if (step < 0 || adam_t < 0) fail("{}: key train.step: expected a non-negative step, got {}", path, step);
  std::string state = from_hex(path, md.get_string("train.blob"));
  std::vector<Parameter>& params = network.parameters();
  // Read everything before changing anything, so a bad file leaves the network and optimizer as they were.
  std::vector<std::vector<float>> values(params.size()), m(params.size()), v(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i].resize(params[i].value.size());
    m[i].resize(params[i].value.size());
    v[i].resize(params[i].value.size());
    read_f32(file, params[i].name, params[i].shape, values[i]);
    read_f32(file, "opt.m." + params[i].name, params[i].shape, m[i]);
    read_f32(file, "opt.v." + params[i].name, params[i].shape, v[i]);
  }
  if (file.tensors().size() != 3 * params.size()) {
    fail("{}: expected {} tensors, got {} (the checkpoint is of another model)", path, 3 * params.size(),
         file.tensors().size());
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].value = std::move(values[i]);
  optimizer.m_ = std::move(m);
  optimizer.v_ = std::move(v);
  optimizer.t_ = adam_t;
  blob = std::move(state);
  return step;
}

}  // namespace whale::train
