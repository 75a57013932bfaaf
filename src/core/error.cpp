// Reporting of broken invariants (see error.h).
#include "core/error.h"

#include <cstdio>
#include <cstdlib>

namespace whale::detail {

void assert_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "whale: internal error: %s failed at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace whale::detail
