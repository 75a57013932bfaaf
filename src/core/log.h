// Minimal leveled logging to stderr. Quiet by default for CLI tools; servers raise it.
#pragma once

#include <fmt/format.h>

#include <cstdio>

namespace whale {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };

LogLevel log_level();
void set_log_level(LogLevel level);

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level > log_level()) return;
  std::string line = fmt::format(format, std::forward<Args>(args)...);
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace whale
