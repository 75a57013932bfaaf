// The instruction-set level the fast kernels run at, chosen once at run time from cpuid so the binary stays
// baseline x86-64. WHALE_ISA=scalar|avx2|avx512 (environment) forces a lower level; set_isa() does the same
// for tests, which run every kernel on every level the machine supports.
#pragma once

#include <optional>
#include <string_view>

namespace whale::kernels {

enum class Isa {
  Scalar,  // portable C++ (the compiler's baseline x86-64 SSE2 at most)
  Avx2,    // AVX2 + FMA + F16C
  Avx512,  // AVX-512 F/BW/VL/VNNI (+ BF16 dot products when the CPU has AVX512_BF16)
};

// The best level this CPU (and OS, for the wider registers) supports.
Isa detected_isa();
// Whether this CPU has AVX512_BF16 (vdpbf16ps); the Avx512 BF16 kernels use it only then.
bool has_avx512_bf16();
// The level kernels use now: detected_isa(), lowered by WHALE_ISA at first use, or by set_isa().
Isa active_isa();
// Forces the level (tests, benchmarks). Returns false, changing nothing, when the CPU lacks it. Not
// thread-safe against running kernels: call it between forward passes.
bool set_isa(Isa isa);

std::string_view isa_name(Isa isa);  // "scalar", "avx2", "avx512"
std::optional<Isa> isa_from_name(std::string_view name);

}  // namespace whale::kernels
