// Writes random f16 keys (full f16 range, subnormals, an all-zero page, +inf and NaN keys) and the
// Quest page bounds bench/gpu/quest_reference.h computes for them, for
// test/cuda/quest_reference.test.ts to compare with the js reference. Usage: quest_reference_check <dir>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "quest_reference.h"
#include "sparsenn/convert.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  const int64_t KH = 3, D = 40, P = 8, pages = 50, L = pages * P;
  std::mt19937 rng(5);
  std::vector<uint16_t> k(size_t(KH * L * D));
  for (auto& v : k) {
    v = uint16_t(rng() % 0x7c00);                  // finite magnitudes, subnormals included
    if (rng() % 7 == 0) v = uint16_t(v & 0x03ff);  // more subnormals
    if (rng() & 1) v = uint16_t(v | 0x8000);
  }
  for (int64_t i = 0; i < P * D; ++i) k[size_t((0 * L + P) * D + i)] = 0;  // head 0, page 1: all zero
  k[size_t((1 * L + 2 * P + 1) * D + 3)] = 0x7c00;                          // head 1, page 2: +inf
  k[size_t((2 * L + 3 * P + 1) * D + 3)] = 0x7e00;                          // head 2, page 3: NaN
  std::vector<int8_t> codes(size_t(KH * pages * 2 * D));
  std::vector<float> scales(size_t(KH * pages));
  for (int64_t h = 0; h < KH; ++h)
    for (int64_t p = 0; p < pages; ++p)
      sparsenn::gpu_check::ref_quest_page(
          [&](int64_t t, int64_t d) { return sparsenn::f16_to_f32(k[size_t((h * L + t) * D + d)]); }, p * P, P, D,
          &codes[size_t((h * pages + p) * 2 * D)], &scales[size_t(h * pages + p)]);
  auto write = [&](const char* name, const void* data, size_t bytes) {
    FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
    if (!f || std::fwrite(data, 1, bytes, f) != bytes) return false;
    return std::fclose(f) == 0;
  };
  const bool ok = write("keys.bin", k.data(), k.size() * 2) && write("codes.bin", codes.data(), codes.size()) &&
                  write("scales.bin", scales.data(), scales.size() * 4);
  std::printf(ok ? "OK\n" : "FAIL writing\n");
  return ok ? 0 : 1;
}
