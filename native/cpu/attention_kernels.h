// The per-ISA inner step shared by decode and prefill attention (native/cpu/attention_decode.cc,
// attention_prefill.cc): fold one block of keys into the running softmax state of a few queries.
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

// Most keys one attend_block call takes (its scratch is sized for this). 128 rather than 64: the
// per-block softmax reductions and accumulator reloads spread over twice the keys (avx512, f16,
// in-cache: ~5% fewer cycles per key) and decode prefetches one block ahead, further in time.
constexpr int64_t kAttendBlock = 128;

// Running state of online softmax for `rows` queries: max score m[r], sum of exp l[r], and the
// unnormalised output acc[r*D .. r*D+D). Start as m = -inf, l = 0, acc = 0; the answer is acc / l.
//
// attend_block folds keys `tokens[0..n)` (n <= kAttendBlock) of KV head `h` into that state for
// queries q + r*q_stride (r < rows). With causal_pos0 >= 0, query r only sees tokens
// <= causal_pos0 + r (prefill); with causal_pos0 < 0 it sees them all (decode).
// tokens[n .. n + n_ahead) are the keys the caller reads next (any selection kind): a variant may
// prefetch their rows while it computes, so memory latency overlaps arithmetic; they are not read.
using AttendBlockFn = void (*)(const float* q, int64_t q_stride, int64_t rows, int64_t causal_pos0, const KvView& kv,
                               int64_t h, const int32_t* tokens, int64_t n, int64_t n_ahead, float scale, float* m,
                               float* l, float* acc);

namespace portable {
void attend_block(const float*, int64_t, int64_t, int64_t, const KvView&, int64_t, const int32_t*, int64_t, int64_t, float,
                  float*, float*, float*);
}
namespace avx2 {
void attend_block(const float*, int64_t, int64_t, int64_t, const KvView&, int64_t, const int32_t*, int64_t, int64_t, float,
                  float*, float*, float*);
}
namespace avx512 {
void attend_block(const float*, int64_t, int64_t, int64_t, const KvView&, int64_t, const int32_t*, int64_t, int64_t, float,
                  float*, float*, float*);
}

// Group-max scores of rows[0..n) (n <= kAttendBlock) of head h: out[t] = max_r q_r · row(h, t)
// over `rows` queries q + r*q_stride.
using GroupScoresFn = void (*)(const float* q, int64_t q_stride, int64_t rows, const KvView& kv, int64_t h, int64_t t0,
                               int64_t n, float* out);

namespace portable { void group_scores(const float*, int64_t, int64_t, const KvView&, int64_t, int64_t, int64_t, float*); }
namespace avx2 { void group_scores(const float*, int64_t, int64_t, const KvView&, int64_t, int64_t, int64_t, float*); }
namespace avx512 { void group_scores(const float*, int64_t, int64_t, const KvView&, int64_t, int64_t, int64_t, float*); }

// The variants for this CPU, picked once.
AttendBlockFn attend_block_kernel();
GroupScoresFn group_scores_kernel();

// Decode attention of KV head h's query group (rows h*G .. h*G+G of q and out, G = q.rows /
// kv.kv_heads) over tokens[0..count), on the calling thread: the same blocks, prefetches and final
// normalisation as attention_decode gives a head whose selection is one chunk (the same bits).
void attention_decode_tokens(const F32View& q, const KvView& kv, int64_t h, const int32_t* tokens, int64_t count, float scale,
                             const MutF32View& out);

}  // namespace sparsenn
