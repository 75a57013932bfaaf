// Named model shapes (see presets.h). The real shapes are the published config.json values.
#include "models/presets.h"

#include "models/deepseek2.h"

namespace whale {
namespace {

ModelConfig dense(std::string arch, std::string name) {
  ModelConfig c;
  c.arch = std::move(arch);
  c.name = std::move(name);
  c.rms_norm_eps = 1e-6f;
  c.rope.type = c.arch == "llama" ? RopeType::Normal : RopeType::Neox;
  return c;
}

void set_heads(ModelConfig& c, int64_t heads, int64_t kv_heads, int64_t head_dim) {
  c.head_count = heads;
  c.head_count_kv = kv_heads;
  c.key_length = head_dim;
  c.value_length = head_dim;
  c.rope.dimension_count = head_dim;
}

void llama3_rope(ModelConfig& c) {
  c.rope.theta = 500000.0;
  c.rope.scaling = RopeScaling::Llama3;
  c.rope.factor = 8.0;
  c.rope.low_freq_factor = 1.0;
  c.rope.high_freq_factor = 4.0;
  c.rope.original_context_length = 8192;
}

std::optional<ModelConfig> dense_preset(std::string_view arch, std::string_view preset) {
  if (arch == "llama") {
    if (preset == "tiny") {
      ModelConfig c = dense("llama", "tiny llama");
      c.vocab_size = 128256;
      c.context_length = 4096;
      c.hidden_size = 64;
      c.block_count = 2;
      set_heads(c, 4, 2, 16);
      c.feed_forward_length = 128;
      c.rms_norm_eps = 1e-5f;
      llama3_rope(c);
      return c;
    }
    if (preset == "r1-distill-llama-8b") {
      ModelConfig c = dense("llama", "DeepSeek-R1-Distill-Llama-8B shape");
      c.vocab_size = 128256;
      c.context_length = 131072;
      c.hidden_size = 4096;
      c.block_count = 32;
      set_heads(c, 32, 8, 128);
      c.feed_forward_length = 14336;
      c.rms_norm_eps = 1e-5f;
      llama3_rope(c);
      return c;
    }
  }
  if (arch == "qwen2") {
    if (preset == "tiny") {
      ModelConfig c = dense("qwen2", "tiny qwen2");
      c.vocab_size = 151936;
      c.context_length = 4096;
      c.hidden_size = 64;
      c.block_count = 2;
      set_heads(c, 4, 2, 16);
      c.feed_forward_length = 128;
      c.rope.theta = 10000.0;
      return c;
    }
    if (preset == "r1-distill-qwen-1.5b") {
      ModelConfig c = dense("qwen2", "DeepSeek-R1-Distill-Qwen-1.5B shape");
      c.vocab_size = 151936;
      c.context_length = 131072;
      c.hidden_size = 1536;
      c.block_count = 28;
      set_heads(c, 12, 2, 128);
      c.feed_forward_length = 8960;
      c.rope.theta = 10000.0;
      return c;
    }
  }
  if (arch == "qwen3") {
    if (preset == "tiny") {
      ModelConfig c = dense("qwen3", "tiny qwen3");
      c.vocab_size = 151936;
      c.context_length = 4096;
      c.hidden_size = 64;
      c.block_count = 2;
      set_heads(c, 4, 2, 32);  // head_dim independent of hidden / heads, as in Qwen3
      c.feed_forward_length = 128;
      c.rope.theta = 1000000.0;
      return c;
    }
    if (preset == "r1-0528-qwen3-8b") {
      ModelConfig c = dense("qwen3", "DeepSeek-R1-0528-Qwen3-8B shape");
      c.vocab_size = 151936;
      c.context_length = 131072;
      c.hidden_size = 4096;
      c.block_count = 36;
      set_heads(c, 32, 8, 128);
      c.feed_forward_length = 12288;
      c.rope.theta = 1000000.0;
      return c;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ModelConfig> model_preset(std::string_view arch, std::string_view preset) {
  if (arch == "deepseek2") return deepseek2_preset(preset);
  return dense_preset(arch, preset);
}

std::vector<std::string> model_preset_names(std::string_view arch) {
  if (arch == "llama") return {"tiny", "r1-distill-llama-8b"};
  if (arch == "qwen2") return {"tiny", "r1-distill-qwen-1.5b"};
  if (arch == "qwen3") return {"tiny", "r1-0528-qwen3-8b"};
  if (arch == "deepseek2") {
    std::vector<std::string> names;
    for (std::string_view n : deepseek2_preset_names()) names.emplace_back(n);
    return names;
  }
  return {};
}

}  // namespace whale
