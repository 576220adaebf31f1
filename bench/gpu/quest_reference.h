// The CPU's Quest page bounds as plain host C++ (no CUDA): the reference the GPU check program
// (check.cc) compares quest_page_bounds.cu with, itself checked against the library's js
// reference (questPageBoundsRef) by test/cuda/quest_reference.test.ts.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

namespace sparsenn::gpu_check {

// The CPU's Quest page bounds (questPageBoundsRef in lib/backend/js/attention_select.ts), written
// independently of the kernel: hi/lo per channel in double, the smallest f32 scale s with
// 127·s >= max |hi|, |lo| (+inf when a key is not finite), codes ceil(hi/s) and floor(lo/s).
inline float ref_page_scale(double m) {
  if (!std::isfinite(m)) return INFINITY;
  float sc = float(m / 127.0);
  if (double(sc) * 127.0 < m) sc = std::nextafter(sc, INFINITY);
  return sc;
}
inline void ref_quest_page(const std::function<float(int64_t, int64_t)>& key, int64_t t0, int64_t P, int64_t D, int8_t* row,
                    float* scale) {
  std::vector<double> hi(static_cast<size_t>(D), -INFINITY), lo(static_cast<size_t>(D), INFINITY);
  double m = 0;
  bool non_finite = false;
  for (int64_t d = 0; d < D; ++d) {
    for (int64_t t = t0; t < t0 + P; ++t) {
      const double x = key(t, d);
      if (!std::isfinite(x)) non_finite = true;
      if (std::isnan(x)) continue;
      hi[size_t(d)] = std::max(hi[size_t(d)], x);
      lo[size_t(d)] = std::min(lo[size_t(d)], x);
    }
    m = std::max({m, std::fabs(hi[size_t(d)]), std::fabs(lo[size_t(d)])});
  }
  const float sc = non_finite ? INFINITY : ref_page_scale(m);
  *scale = sc;
  for (int64_t d = 0; d < D; ++d) {
    double hc = 127, lc = -127;
    if (sc == 0.0f) hc = lc = 0;
    else if (std::isfinite(sc)) {
      hc = std::min(127.0, std::max(-127.0, std::ceil(hi[size_t(d)] / sc)));
      lc = std::min(127.0, std::max(-127.0, std::floor(lo[size_t(d)] / sc)));
    }
    row[d] = int8_t(hc);
    row[D + d] = int8_t(lc);
  }
}

}  // namespace sparsenn::gpu_check
