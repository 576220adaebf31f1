// Decode attention over a selection of cached keys, split over KV heads and over chunks of the
// selected keys (split-K); each chunk keeps its own softmax state and a final log-sum-exp merge
// combines them, so batch-1 decoding at long context spreads over every core.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention_kernels.h"
#include "isa.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

AttendBlockFn attend_block_kernel() {
  static const AttendBlockFn kernel = pick_kernel<AttendBlockFn>(
      SPARSENN_X86_KERNEL(avx512::attend_block), SPARSENN_X86_KERNEL(avx2::attend_block), portable::attend_block);
  return kernel;
}

namespace {

// Entry e of a head's selection as a half-open token range.
inline void entry_range(const SelectionView& sel, int64_t length, int64_t e, int64_t* b, int64_t* end) {
  switch (sel.kind) {
    case SelectionKind::Ranges: *b = sel.items[2 * e]; *end = sel.items[2 * e + 1]; break;
    case SelectionKind::Indices: *b = sel.items[e]; *end = *b + 1; break;
    case SelectionKind::Pages:
      *b = int64_t(sel.items[e]) * sel.page_size;
      *end = std::min(*b + sel.page_size, length);
      break;
    default: *b = 0; *end = length; break;
  }
  if (*end < *b) *end = *b;
}

// One head's selection flattened into entries with a running count of tokens before each, so a
// chunk [a, b) of selected tokens finds its first entry by binary search.
struct HeadPlan {
  int64_t first_entry = 0, entries = 0;
  std::vector<int64_t> before;  // tokens selected before each entry; back() = total
  int64_t chunk0 = 0, chunks = 0;
};

// Folds a token list of KV head h into the running state (m, l, acc) of its query group, a block
// at a time; each block is told the next one, so the kernel prefetches its rows while it computes.
void attend_tokens(const float* qg, int64_t q_stride, int64_t G, const KvView& kv, int64_t h, const int32_t* tokens,
                   int64_t count, float scale, float* m, float* l, float* acc) {
  const AttendBlockFn attend = attend_block_kernel();
  for (int64_t i = 0; i < count; i += kAttendBlock) {
    const int64_t n = std::min(kAttendBlock, count - i);
    const int64_t ahead = std::min(kAttendBlock, count - i - n);
    attend(qg, q_stride, G, -1, kv, h, tokens + i, n, ahead, scale, m, l, acc);
  }
}

// Query g of a head's group from its chunks' states (`chunks` consecutive states of G*(D+2)
// floats: m, l, then acc), by a log-sum-exp merge, into o[0..D).
void merge_chunks(const float* states, int64_t chunks, int64_t G, int64_t D, int64_t g, float* o) {
  const int64_t state = D + 2;
  std::fill(o, o + D, 0.f);
  float gm = -std::numeric_limits<float>::infinity();
  for (int64_t c = 0; c < chunks; ++c) gm = std::max(gm, states[c * G * state + g]);
  if (gm == -std::numeric_limits<float>::infinity()) return;  // empty selection: zeros
  double lsum = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    const float* st = states + c * G * state;
    if (st[g] == -std::numeric_limits<float>::infinity()) continue;
    const float w = std::exp(st[g] - gm);
    lsum += double(w) * st[G + g];
    const float* acc = st + 2 * G + g * D;
    for (int64_t d = 0; d < D; ++d) o[d] += w * acc[d];
  }
  const float inv = float(1.0 / lsum);
  for (int64_t d = 0; d < D; ++d) o[d] *= inv;
}

// A fresh softmax state for G queries: m = -inf, l = 0, acc = 0.
void reset_state(float* st, int64_t G, int64_t D) {
  std::fill(st, st + G, -std::numeric_limits<float>::infinity());
  std::fill(st + G, st + G + G + G * D, 0.f);
}

}  // namespace

void attention_decode_tokens(const F32View& q, const KvView& kv, int64_t h, const int32_t* tokens, int64_t count, float scale,
                             const MutF32View& out) {
  const int64_t D = kv.head_dim, G = q.rows / kv.kv_heads;
  thread_local std::vector<float> state;
  std::vector<float>& st = state;
  st.resize(size_t(G * (D + 2)));
  reset_state(st.data(), G, D);
  attend_tokens(q.data + h * G * q.cols, q.cols, G, kv, h, tokens, count, scale, st.data(), st.data() + G, st.data() + 2 * G);
  for (int64_t g = 0; g < G; ++g) merge_chunks(st.data(), 1, G, D, g, out.data + (h * G + g) * out.cols);
}

void attention_decode(const F32View& q, const KvView& kv, const SelectionView& sel, float scale,
                      const MutF32View& out) {
  const int64_t H = q.rows, D = kv.head_dim, KVH = kv.kv_heads, G = H / KVH;

  std::vector<HeadPlan> plans(static_cast<size_t>(KVH));
  int64_t total = 0;
  for (int64_t h = 0; h < KVH; ++h) {
    HeadPlan& p = plans[size_t(h)];
    if (sel.kind == SelectionKind::All) {
      p.entries = 1;
    } else {
      p.first_entry = sel.offsets[h];
      p.entries = sel.offsets[h + 1] - sel.offsets[h];
    }
    p.before.resize(size_t(p.entries + 1));
    p.before[0] = 0;
    for (int64_t e = 0; e < p.entries; ++e) {
      int64_t b, end;
      entry_range(sel, kv.length, p.first_entry + e, &b, &end);
      p.before[size_t(e + 1)] = p.before[size_t(e)] + (end - b);
    }
    total += p.before.back();
  }

  // Chunk size: enough chunks for ~4 per thread, each at least 4 key blocks, in whole blocks.
  const int64_t want = std::max<int64_t>(1, int64_t(thread_count()) * 4);
  int64_t chunk = std::max<int64_t>(4 * kAttendBlock, (total + want - 1) / want);
  chunk = (chunk + kAttendBlock - 1) / kAttendBlock * kAttendBlock;
  int64_t n_chunks = 0;
  std::vector<int64_t> chunk_head;
  for (int64_t h = 0; h < KVH; ++h) {
    HeadPlan& p = plans[size_t(h)];
    p.chunk0 = n_chunks;
    p.chunks = (p.before.back() + chunk - 1) / chunk;
    n_chunks += p.chunks;
    for (int64_t c = 0; c < p.chunks; ++c) chunk_head.push_back(h);
  }

  // Per chunk and query of the group: m, l, then D accumulators.
  const int64_t state = D + 2;
  std::vector<float> partial(size_t(n_chunks * G * state));
  parallel_for(n_chunks, [&](int64_t c) {
    const int64_t h = chunk_head[size_t(c)];
    const HeadPlan& p = plans[size_t(h)];
    float* st = partial.data() + c * G * state;
    reset_state(st, G, D);
    const int64_t a = (c - p.chunk0) * chunk, b = std::min(a + chunk, p.before.back());
    // The chunk's token list, flattened first so each block also knows the tokens that follow it
    // (the kernel prefetches their rows while it computes). First entry reaching past position a:
    int64_t e = int64_t(std::upper_bound(p.before.begin(), p.before.end(), a) - p.before.begin()) - 1;
    int64_t pos = a;
    thread_local std::vector<int32_t> tokens;
    tokens.resize(size_t(b - a));
    int64_t count = 0;
    for (; pos < b && e < p.entries; ++e) {
      int64_t tb, te;
      entry_range(sel, kv.length, p.first_entry + e, &tb, &te);
      for (int64_t t = tb + (pos - p.before[size_t(e)]); t < te && pos < b; ++t, ++pos) tokens[size_t(count++)] = int32_t(t);
    }
    attend_tokens(q.data + h * G * q.cols, q.cols, G, kv, h, tokens.data(), count, scale, st, st + G, st + 2 * G);
  });

  // Log-sum-exp merge of the chunks of each head.
  for (int64_t h = 0; h < KVH; ++h) {
    const HeadPlan& p = plans[size_t(h)];
    for (int64_t g = 0; g < G; ++g)
      merge_chunks(partial.data() + p.chunk0 * G * state, p.chunks, G, D, g, out.data + (h * G + g) * out.cols);
  }
}

}  // namespace sparsenn
