// Server-sent events framing for streamed responses: `data: {json}\n\n` events, the closing `data: [DONE]`,
// and `: comment` lines that keep idle connections open through proxies.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace whale::server {

// Serializes JSON for the wire; invalid UTF-8 from a model is replaced with U+FFFD instead of failing.
std::string dump_json(const nlohmann::json& value);

std::string sse_data(const nlohmann::json& value);  // "data: {...}\n\n"
std::string sse_done();                             // "data: [DONE]\n\n"
std::string sse_comment(const std::string& text);   // ": text\n\n" (newlines in text become spaces)

}  // namespace whale::server
