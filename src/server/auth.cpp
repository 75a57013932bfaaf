// API key loading and checking (see auth.h).
#include "server/auth.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace whale::server {

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Compare over the longer length so a wrong length costs the same as a wrong byte.
  size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

ApiKeys ApiKeys::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("--api-key-file {}: cannot be read", path);
  std::stringstream text;
  text << in.rdbuf();
  return from_text(text.str(), path);
}

ApiKeys ApiKeys::from_text(const std::string& text, const std::string& source) {
  ApiKeys keys;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::istringstream words(line);
    std::vector<std::string> parts;
    for (std::string w; words >> w;) parts.push_back(w);
    if (parts.empty() || parts[0][0] == '#') continue;
    if (parts.size() > 2)
      fail("{}: line {}: expected \"KEY\" or \"NAME KEY\", got {} words", source, number, parts.size());
    Key key;
    key.secret = parts.back();
    key.name = parts.size() == 2 ? parts[0] : "key" + std::to_string(keys.keys_.size() + 1);
    if (key.secret.size() < 8) fail("{}: line {}: a key must be at least 8 characters", source, number);
    keys.keys_.push_back(std::move(key));
  }
  if (keys.keys_.empty()) fail("{}: no API keys found (one key per line)", source);
  return keys;
}

std::optional<std::string> ApiKeys::check(const std::string& authorization) const {
  const std::string prefix = "Bearer ";
  if (authorization.size() <= prefix.size() || authorization.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  std::string presented = authorization.substr(prefix.size());
  std::optional<std::string> found;
  for (const auto& key : keys_)  // every key is compared, whichever matches
    if (constant_time_equal(presented, key.secret)) found = key.name;
  return found;
}

}  // namespace whale::server
