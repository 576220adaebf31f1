#include "gather_read.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "threadpool.h"

namespace sparsenn {

namespace {

constexpr int64_t kRowsAhead = 32;

inline void prefetch_row(const char* p, int64_t row_bytes) {
  for (int64_t c = 0; c < row_bytes; c += 64) __builtin_prefetch(p + c, 0, 2);
}

inline uint64_t word_at(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// One word in every cache line the row spans (probes 64 bytes apart, and its last word): enough to
// bring the whole row in, and little enough work that memory alone sets the pace.
inline uint64_t row_probe(const char* p, int64_t row_bytes) {
  uint64_t s = word_at(p + row_bytes - 8);
  for (int64_t c = 0; c < row_bytes - 8; c += 64) s += word_at(p + c);
  return s;
}

}  // namespace

double gather_read_sum(const void* a, const void* b, int64_t row_bytes, int64_t row_stride, const uint32_t* rows, int64_t count,
                       int threads) {
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, thread_count()));
  std::vector<uint64_t> partial(size_t(parts), 0);
  parallel_for(parts, [&](int64_t p) {
    const int64_t begin = count * p / parts, end = count * (p + 1) / parts;
    for (int64_t i = begin; i < std::min(end, begin + kRowsAhead); ++i) {
      prefetch_row(pa + int64_t(rows[i]) * row_stride, row_bytes);
      prefetch_row(pb + int64_t(rows[i]) * row_stride, row_bytes);
    }
    uint64_t s = 0;
    for (int64_t i = begin; i < end; ++i) {
      if (i + kRowsAhead < end) {
        prefetch_row(pa + int64_t(rows[i + kRowsAhead]) * row_stride, row_bytes);
        prefetch_row(pb + int64_t(rows[i + kRowsAhead]) * row_stride, row_bytes);
      }
      s += row_probe(pa + int64_t(rows[i]) * row_stride, row_bytes) + row_probe(pb + int64_t(rows[i]) * row_stride, row_bytes);
    }
    partial[size_t(p)] = s;
  });
  uint64_t s = 0;
  for (uint64_t v : partial) s += v;
  return double(s);
}

}  // namespace sparsenn
