// A plain read of scattered rows (two arrays, the same rows of each: a KV cache's K and V rows of a
// token list) over the kernel thread pool: the benchmark's measure of how fast this machine reads
// the rows a token-list attention kernel reads, with nothing else to do, taken in the same run as
// the kernel it bounds (bench/attention.ts). Not a model op, like stream_read.h.
#pragma once
#include <cstdint>

namespace sparsenn {

// Reads rows[i] of a and of b (row r at byte r * row_stride, row_bytes long, a multiple of 8), for i
// in [0, count), with at most `threads` workers, each over a contiguous part of the list: the sum of
// one 64-bit word per cache line the row spans (at offsets 0, 64, ... below row_bytes - 8, and the
// row's last word), so every line is fetched and the arithmetic stays negligible. Rows a few dozen ahead are prefetched into L2: scattered rows defeat the hardware
// prefetchers, and this rolling distance read fastest in a harness here (8 heads x 2048 of 32K
// f16 rows, 2 threads: ~22 GB/s against ~14 without prefetches).
double gather_read_sum(const void* a, const void* b, int64_t row_bytes, int64_t row_stride, const uint32_t* rows, int64_t count,
                       int threads);

}  // namespace sparsenn
