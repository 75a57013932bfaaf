// API keys: loaded from --api-key-file (one key per line, optionally preceded by a name: "alice sk-abc";
// blank lines and lines starting with # are skipped) and checked in constant time against the
// `Authorization: Bearer KEY` header. Metrics label usage with the key's name, never the key.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace whale::server {

class ApiKeys {
 public:
  ApiKeys() = default;  // no keys: every request is allowed
  static ApiKeys load(const std::string& path);
  static ApiKeys from_text(const std::string& text, const std::string& source);

  bool enabled() const { return !keys_.empty(); }
  // The name of the key an Authorization header carries, or nothing when it is missing or wrong.
  std::optional<std::string> check(const std::string& authorization) const;

 private:
  struct Key {
    std::string name;
    std::string secret;
  };
  std::vector<Key> keys_;
};

// Compares without an early exit, so the time taken does not reveal how much of a secret matched.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace whale::server
