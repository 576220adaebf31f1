// Which SIMD variant of the kernels this process uses. Decided once, at first
// use, from the CPU's features (and SPARSENN_SIMD, to force a lower level for
// testing the fallbacks on a big machine).
#pragma once

namespace sparsenn {

enum class Isa { Portable = 0, Neon = 1, Avx2 = 2, Avx512 = 3 };

Isa active_isa();
const char* isa_name(Isa isa);

// AVX-512 extensions beyond the F/BW/VL/DQ the AVX-512 variant files are compiled for: a few kernels
// use them through target attributes, and run only where the CPU has them (false off x86).
bool cpu_has_avx512_vnni_vbmi();  // vpdpbusd and vpermb: the Quest / Double Sparsity integer scores
bool cpu_has_avx512_vbmi2();      // vpcompressw: the top-k's 16-bit collect

// Picks the best compiled kernel variant for the active ISA. The x86 variants
// exist only in x86 builds, so callers pass nullptr for the others elsewhere.
template <typename Fn>
Fn pick_kernel(Fn avx512, Fn avx2, Fn portable) {
  switch (active_isa()) {
    case Isa::Avx512: if (avx512) return avx512; [[fallthrough]];
    case Isa::Avx2: if (avx2) return avx2; [[fallthrough]];
    default: return portable;
  }
}

}  // namespace sparsenn

#if defined(__x86_64__) || defined(_M_X64)
#define SPARSENN_X86 1
#define SPARSENN_X86_KERNEL(name) name
#else
#define SPARSENN_X86 0
#define SPARSENN_X86_KERNEL(name) nullptr
#endif
