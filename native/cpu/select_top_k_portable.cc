// Top-k passes (select_top_k_kernels.h), portable variant: plain loops, written without branches on
// the data: which side of the threshold a score falls is random, and a misprediction costs more than
// the store it saves.
#include <cstdint>

#include "select_top_k_kernels.h"

namespace sparsenn {
namespace portable {

int64_t collect_window(const float* s, int64_t n, float low, uint16_t* out) {
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i) {
    out[c] = uint16_t(i);  // written always, kept when it passes
    c += s[i] >= low;
  }
  return c;
}

int64_t keys_in_range(const uint32_t* keys, int64_t m, uint32_t lo, uint32_t hi, uint32_t* out) {
  int64_t o = 0;
  for (int64_t j = 0; j < m; ++j) {  // in place: o <= j
    const uint32_t key = keys[j];
    out[o] = key;  // written always, kept when in range
    o += uint32_t(key - lo) <= uint32_t(hi - lo);
  }
  return o;
}

int64_t take_top(const uint32_t* keys, const uint16_t* at, int64_t c, uint32_t first, uint32_t threshold,
                 int64_t* ties_left, int64_t room, uint32_t* out) {
  int64_t o = 0, ties = *ties_left;
  for (int64_t j = 0; j < c && o < room; ++j) {  // (o < room: out ends there)
    const uint32_t key = keys[j];
    const bool tie = key == threshold && ties > 0;
    out[o] = first + at[j];  // written always, kept when taken
    o += key > threshold || tie;
    ties -= tie;
  }
  *ties_left = ties;
  return o;
}

}  // namespace portable
}  // namespace sparsenn
