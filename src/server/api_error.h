// ApiError: a failed request as the API reports it, with the HTTP status DeepSeek uses and OpenAI's error
// body {"error": {"message", "type", "param", "code"}}. Request handling throws it; the server turns it into a
// response at one place (server.cpp).
#pragma once

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

namespace whale::server {

struct ApiError {
  int status = 500;
  std::string message;
  std::string param;  // the offending field ("messages[1].role"); empty = null
  std::string code;   // a short machine-readable code; empty = null

  const char* type() const;  // "invalid_request_error", "authentication_error", ...
  nlohmann::json body() const;
};

// 400: the body is not what the API accepts (bad JSON, missing field, prompt over the context).
template <typename... Args>
[[noreturn]] void fail_request(std::string param, fmt::format_string<Args...> format, Args&&... args) {
  throw ApiError{400, fmt::format(format, std::forward<Args>(args)...), std::move(param), "invalid_request"};
}

// 422: a field has a value or type the API does not accept.
template <typename... Args>
[[noreturn]] void fail_param(std::string param, fmt::format_string<Args...> format, Args&&... args) {
  throw ApiError{422, fmt::format(format, std::forward<Args>(args)...), std::move(param), "invalid_parameter"};
}

}  // namespace whale::server
