#include "isa.h"

#include <cstdlib>
#include <cstring>

namespace sparsenn {

namespace {

Isa detect_hardware() {
#if SPARSENN_X86 && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // Our AVX-512 kernels use F, BW, VL and DQ; AVX2 kernels also need FMA and F16C.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Portable;
#elif defined(__aarch64__)
  return Isa::Neon;
#else
  return Isa::Portable;
#endif
}

Isa detect() {
  Isa hw = detect_hardware();
  // SPARSENN_SIMD may only lower the level: asking for more than the CPU has would crash.
  if (const char* env = std::getenv("SPARSENN_SIMD")) {
    Isa want = hw;
    if (!std::strcmp(env, "avx2")) want = Isa::Avx2;
    else if (!std::strcmp(env, "scalar") || !std::strcmp(env, "portable")) want = Isa::Portable;
    else if (!std::strcmp(env, "avx512")) want = Isa::Avx512;
    if (int(want) < int(hw) && want != Isa::Neon) return want;
  }
  return hw;
}

}  // namespace

Isa active_isa() {
  static const Isa isa = detect();
  return isa;
}

bool cpu_has_avx512_vnni_vbmi() {
#if SPARSENN_X86 && (defined(__GNUC__) || defined(__clang__))
  static const bool has = (__builtin_cpu_init(), __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi"));
  return has;
#else
  return false;
#endif
}

bool cpu_has_avx512_vbmi2() {
#if SPARSENN_X86 && (defined(__GNUC__) || defined(__clang__))
  static const bool has = (__builtin_cpu_init(), __builtin_cpu_supports("avx512vbmi2"));
  return has;
#else
  return false;
#endif
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Neon: return "neon";
    default: return "scalar";
  }
}

}  // namespace sparsenn
