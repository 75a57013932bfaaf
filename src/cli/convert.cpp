// `whale convert HF_FOLDER OUT.gguf [--type f32|f16|bf16|q8_0]`: writes a GGUF file that llama.cpp and whale
// both load: config.json as llama.cpp's metadata keys, tensors under llama.cpp's names and layouts, the
// tokenizer as tokenizer.ggml.* and the chat template as tokenizer.chat_template.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_convert.h"
#include "formats/model_source.h"
#include "tokenizer/gguf_vocab.h"

namespace whale::cli {
namespace {

struct ConvertOptions {
  std::string input;
  std::string output;
  std::string type = "f16";
  bool mtp = false;
};

void run_convert(const ConvertOptions& o) {
  ModelSource::Options source_options;
  source_options.include_mtp = o.mtp;
  const ModelSource source = ModelSource::open(o.input, source_options);
  if (source.kind() != ModelSource::Kind::HuggingFace) {
    fail("{}: expected a Hugging Face model folder (config.json + safetensors), got a GGUF file", o.input);
  }
  if (!source.tokenizer_json()) {
    fail("{}: tokenizer.json is missing (a GGUF file carries its tokenizer; llama.cpp cannot load one without)",
         o.input);
  }
  const auto type = dtype_from_name(o.type);
  WHALE_ASSERT(type.has_value());  // CLI11 checked the name

  gguf::Writer writer;
  gguf::add_model(source, *type, writer);
  add_tokenizer_to_gguf(*source.tokenizer_json(), source.tokenizer_config_json().value_or(""), writer.metadata());
  // chat_template.jinja (newer HF folders) wins over tokenizer_config.json, as in transformers.
  if (source.chat_template()) writer.metadata().set_string("tokenizer.chat_template", *source.chat_template());
  writer.write(o.output);
  std::printf("%s: %s, %zu tensors, type %s\n", o.output.c_str(), source.architecture().c_str(),
              writer.tensor_count(), o.type.c_str());
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face model folder into a GGUF file");
  cmd->add_option("input", options->input, "Hugging Face folder (config.json, *.safetensors, tokenizer.json)")
      ->required();
  cmd->add_option("output", options->output, "GGUF file to write (replaced atomically)")->required();
  cmd->add_option("-t,--type", options->type, "Type of the weight matrices (norms, biases and vectors stay f32)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}))
      ->capture_default_str();
  cmd->add_flag("--mtp", options->mtp, "Keep DeepSeek's multi-token-prediction layers (llama.cpp's converter drops them)");
  cmd->callback([options] { run_convert(*options); });
}

}  // namespace whale::cli
