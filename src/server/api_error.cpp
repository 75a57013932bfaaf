// ApiError's wire form (see api_error.h).
#include "server/api_error.h"

namespace whale::server {

const char* ApiError::type() const {
  switch (status) {
    case 400:
    case 404:
    case 413:
    case 422:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 429:
      return "rate_limit_error";
    case 503:
      return "overloaded_error";
    default:
      return "server_error";
  }
}

nlohmann::json ApiError::body() const {
  nlohmann::json error = {{"message", message}, {"type", type()}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) error["param"] = param;
  if (!code.empty()) error["code"] = code;
  return {{"error", error}};
}

}  // namespace whale::server
