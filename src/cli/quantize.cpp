// `whale quantize IN OUT.gguf --type q8_0|q4_0|q4_k_m|q5_k_m|q6_k|...`: re-encodes a GGUF file or a Hugging
// Face folder (F32/F16/BF16/FP8 or already quantized weights) into a GGUF file that llama.cpp and whale both
// load. The per-tensor rule of each scheme is documented in formats/quantize.h.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/model_source.h"
#include "formats/quantize.h"
#include "tokenizer/gguf_vocab.h"

namespace whale::cli {
namespace {

struct QuantizeOptions {
  std::string input;
  std::string output;
  std::string type = "q4_k_m";
  int threads = 0;
};

void run_quantize(const QuantizeOptions& o) {
  const auto scheme = gguf::quant_scheme(o.type);
  WHALE_ASSERT(scheme.has_value());  // CLI11 checked the name
  const auto start = std::chrono::steady_clock::now();
  const ModelSource source = ModelSource::open(o.input);
  gguf::Writer writer;
  ThreadPool pool(o.threads);
  gguf::add_quantized_model(source, *scheme, pool, writer);
  if (source.kind() == ModelSource::Kind::HuggingFace) {
    if (!source.tokenizer_json()) fail("{}: tokenizer.json is missing (llama.cpp cannot load a GGUF without one)", o.input);
    add_tokenizer_to_gguf(*source.tokenizer_json(), source.tokenizer_config_json().value_or(""), writer.metadata());
    if (source.chat_template()) writer.metadata().set_string("tokenizer.chat_template", *source.chat_template());
  }
  writer.write(o.output);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %s, %zu tensors, %s, %.1f s\n", o.output.c_str(), source.architecture().c_str(),
              writer.tensor_count(), scheme->name.c_str(), seconds);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model (GGUF file or Hugging Face folder) into a GGUF file");
  cmd->add_option("input", o->input, "Model: a .gguf file or a Hugging Face folder")->required();
  cmd->add_option("output", o->output, "GGUF file to write (replaced atomically)")->required();
  cmd->add_option("-t,--type", o->type, "Scheme: q4_k_m keeps attn_v/ffn_down of some layers and the output at q6_k")
      ->check(CLI::IsMember(gguf::quant_scheme_names(), CLI::ignore_case))
      ->capture_default_str();
  cmd->add_option("-j,--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->callback([o] { run_quantize(*o); });
}

}  // namespace whale::cli
