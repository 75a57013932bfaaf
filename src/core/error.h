// The one error idiom of whale: user-facing failures (bad files, bad flags, bad requests) throw whale::Error
// with a message that says what was wrong, where, and what was expected. Callers at the edge (CLI, HTTP)
// turn it into an exit code or an HTTP status.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace whale {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws whale::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace whale

// Invariant checks stay on in release builds. They guard the program's own logic, not user input:
// input is validated where it enters, with fail().
#define WHALE_ASSERT(cond)                                                                             \
  do {                                                                                                 \
    if (!(cond)) ::whale::detail::assert_failed(#cond, __FILE__, __LINE__);                            \
  } while (0)

namespace whale::detail {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line);
}
