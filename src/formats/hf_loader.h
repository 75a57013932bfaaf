// Internal to formats/: builds a ModelSource from a Hugging Face folder (see model_source.h).
#pragma once

#include <string>

#include "formats/model_source.h"

namespace whale {

class HfLoader {
 public:
  static ModelSource load(const std::string& folder, const ModelSource::Options& options);
};

}  // namespace whale
