// `whale info -m PATH [--json]`: what a model is and what it needs: architecture, parameter count, tensor
// types, context length, chat template, file size and memory. PATH is a .gguf file or a Hugging Face folder.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/model_source.h"
#include "models/model.h"

namespace whale::cli {
namespace {

using nlohmann::ordered_json;

struct InfoOptions {
  std::string model;
  bool json = false;
};

struct TypeCount {
  uint64_t tensors = 0;
  uint64_t bytes = 0;
};

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", value, units[unit]);
}

std::string human_count(uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f} B", static_cast<double>(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f} M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.2f} K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

// Bytes of KV cache one token of context needs (full K/V for GQA models, the compressed latent for MLA). The
// model owns that layout, so it is asked; a file whose model cannot be built still gets the rest of the report.
std::optional<uint64_t> kv_cache_bytes_per_token(const std::shared_ptr<const ModelSource>& source) {
  try {
    ThreadPool pool(1);
    LoadOptions options;
    options.pool = &pool;
    options.max_batch_tokens = 1;
    return load_model(source, options)->kv_bytes_per_token();
  } catch (const Error&) {
    return std::nullopt;
  }
}

void run_info(const InfoOptions& o) {
  const auto source = std::make_shared<const ModelSource>(ModelSource::open(o.model));
  const ModelSource& model = *source;
  const gguf::Metadata& md = model.metadata();
  const std::string arch = model.architecture();
  auto arch_int = [&](const char* key) { return md.find_int(arch + "." + key); };

  uint64_t parameters = 0;
  std::map<std::string, TypeCount> types;
  for (const TensorView& t : model.tensors()) {
    // rope_freqs holds derived rope factors, not a learned weight; FP8 block scales are part of their
    // weights' storage, as a quantized block's scale is.
    if (t.name != "rope_freqs.weight" && !model.is_block_scale(t)) parameters += static_cast<uint64_t>(t.elements());
    TypeCount& c = types[std::string(dtype_name(t.dtype))];
    ++c.tensors;
    c.bytes += t.bytes;
  }
  std::optional<std::string> template_first_line;
  if (model.chat_template()) {
    const std::string& tpl = *model.chat_template();
    template_first_line = tpl.substr(0, tpl.find('\n'));
    // Some templates are one long line; a glimpse is enough to recognise them.
    constexpr size_t kMaxShown = 120;
    if (template_first_line->size() > kMaxShown) {
      size_t cut = kMaxShown;
      while (cut > 0 && (static_cast<unsigned char>((*template_first_line)[cut]) & 0xc0) == 0x80) --cut;
      *template_first_line = template_first_line->substr(0, cut) + "...";
    }
  }
  const std::optional<uint64_t> kv_per_token = kv_cache_bytes_per_token(source);
  const bool is_gguf = model.kind() == ModelSource::Kind::Gguf;

  if (o.json) {
    ordered_json j;
    j["path"] = model.path();
    j["format"] = is_gguf ? "gguf" : "huggingface";
    j["architecture"] = arch;
    j["name"] = md.find_string("general.name").value_or("");
    j["parameters"] = parameters;
    j["tensor_count"] = model.tensors().size();
    ordered_json by_type = ordered_json::object();
    for (const auto& [name, c] : types) by_type[name] = {{"tensors", c.tensors}, {"bytes", c.bytes}};
    j["tensor_types"] = by_type;
    for (const char* key : {"context_length", "block_count", "embedding_length", "feed_forward_length",
                            "attention.head_count", "attention.head_count_kv", "expert_count", "expert_used_count",
                            "nextn_predict_layers"}) {
      if (auto v = arch_int(key)) j[key] = *v;
    }
    j["chat_template"] = {{"present", template_first_line.has_value()},
                          {"first_line", template_first_line ? ordered_json(*template_first_line) : ordered_json()}};
    j["file_bytes"] = model.file_bytes();
    j["weight_bytes"] = model.tensor_bytes();
    j["kv_cache_bytes_per_token"] = kv_per_token ? ordered_json(*kv_per_token) : ordered_json();
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }

  std::string out;
  auto line = [&](std::string_view label, const std::string& value) {
    out += fmt::format("{:<17}{}\n", std::string(label) + ":", value);
  };
  line("file", fmt::format("{} ({})", model.path(), is_gguf ? "GGUF" : "Hugging Face folder"));
  line("architecture", arch);
  if (auto name = md.find_string("general.name")) line("name", *name);
  line("parameters", fmt::format("{} ({})", human_count(parameters), parameters));
  if (auto v = arch_int("block_count")) line("layers", std::to_string(*v));
  if (auto v = arch_int("embedding_length")) line("embedding", std::to_string(*v));
  if (auto v = arch_int("attention.head_count")) {
    line("heads", fmt::format("{} (kv {})", *v, arch_int("attention.head_count_kv").value_or(*v)));
  }
  if (auto v = arch_int("expert_count")) {
    line("experts", fmt::format("{} ({} per token)", *v, arch_int("expert_used_count").value_or(0)));
  }
  if (auto v = arch_int("nextn_predict_layers"); v && *v > 0) line("MTP blocks", std::to_string(*v));
  if (auto v = arch_int("context_length")) line("context length", std::to_string(*v));
  std::string type_list;
  for (const auto& [name, c] : types) {
    type_list += fmt::format("{}{} x{} ({})", type_list.empty() ? "" : ", ", name, c.tensors, human_bytes(c.bytes));
  }
  line("tensor types", fmt::format("{} tensors: {}", model.tensors().size(), type_list));
  line("chat template", template_first_line ? "yes: " + *template_first_line : std::string("no"));
  line("file size", human_bytes(model.file_bytes()));
  line("weights memory", human_bytes(model.tensor_bytes()));
  line("kv cache", kv_per_token ? fmt::format("{} per token", human_bytes(*kv_per_token)) : "unknown (the model could not be built)");
  std::fputs(out.c_str(), stdout);
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model: architecture, parameters, types, context, memory");
  cmd->add_option("-m,--model", options->model, "A .gguf file or a Hugging Face model folder")->required();
  cmd->add_flag("--json", options->json, "Print one JSON object instead of text");
  cmd->callback([options] { run_info(*options); });
}

}  // namespace whale::cli
