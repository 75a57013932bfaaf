// Tensor view helpers (see tensor.h).
#include "core/tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace whale {

std::string shape_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace whale
