// Helpers for the template-engine tests: render a template string with JSON variables, or capture the error.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/jinja_template.h"
#include "core/error.h"

namespace whale::jinja::testing {

inline std::string render(std::string_view source,
                          const nlohmann::ordered_json& variables = nlohmann::ordered_json::object(),
                          const RenderLimits& limits = {}) {
  return Template(source, "t").render(variables, limits);
}

// The whale::Error message of parsing and rendering `source`, or "" when it succeeds.
inline std::string error_of(std::string_view source,
                            const nlohmann::ordered_json& variables = nlohmann::ordered_json::object(),
                            const RenderLimits& limits = {}) {
  try {
    render(source, variables, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace whale::jinja::testing
