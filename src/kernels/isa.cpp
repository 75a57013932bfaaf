// Run-time choice of the kernels' instruction-set level (see isa.h).
#include "kernels/isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <atomic>
#include <cstdlib>

#include "core/log.h"

namespace whale::kernels {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// F16C and AVX512-VNNI straight from CPUID: not every compiler's __builtin_cpu_supports knows them (clang 14
// does not). They need no OS support of their own beyond the AVX / AVX-512 state checked with their families.
bool cpuid_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
}
bool cpuid_has_avx512vnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1u << 11)) != 0;
}
#endif

Isa detect() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV), so a CPU feature
  // the kernel has disabled reads as absent.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuid_has_f16c();
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && cpuid_has_avx512vnni()) {
    return Isa::Avx512;
  }
  if (avx2) return Isa::Avx2;
#endif
  return Isa::Scalar;
}

Isa initial() {
  const Isa best = detected_isa();
  const char* env = std::getenv("WHALE_ISA");
  if (env == nullptr || *env == '\0') return best;
  const std::optional<Isa> wanted = isa_from_name(env);
  if (!wanted) {
    log(LogLevel::Warn, "WHALE_ISA={}: expected scalar, avx2 or avx512; using {}", env, isa_name(best));
    return best;
  }
  if (*wanted > best) {
    log(LogLevel::Warn, "WHALE_ISA={}: this CPU supports at most {}; using it", env, isa_name(best));
    return best;
  }
  return *wanted;
}

std::atomic<int>& active() {
  static std::atomic<int> level{static_cast<int>(initial())};
  return level;
}

}  // namespace

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

bool has_avx512_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = detected_isa() == Isa::Avx512 && __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

Isa active_isa() { return static_cast<Isa>(active().load(std::memory_order_relaxed)); }

bool set_isa(Isa isa) {
  if (isa > detected_isa()) return false;
  active().store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (name == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

}  // namespace whale::kernels
