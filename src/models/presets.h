// Named model shapes for `whale mkmodel` and the tests and benchmarks that need a model of a given size:
// tiny ones for every architecture (a real tokenizer's vocabulary, toy hidden sizes, files of a few MB per
// million vocabulary rows), and the real dimensions of the models whale targets.
//
//   llama:     tiny, r1-distill-llama-8b
//   qwen2:     tiny, r1-distill-qwen-1.5b
//   qwen3:     tiny, r1-0528-qwen3-8b
//   deepseek2: tiny-v2-lite, tiny-v3, v2-lite, v3-layer (see models/deepseek2.h)
//
// vocab_size is 0 in presets whose vocabulary follows the tokenizer the model is written with.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/config.h"

namespace whale {

std::optional<ModelConfig> model_preset(std::string_view arch, std::string_view preset);
std::vector<std::string> model_preset_names(std::string_view arch);

}  // namespace whale
