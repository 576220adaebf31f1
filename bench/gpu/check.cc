// Standalone GPU check (no Node needed): the first thing to run on a lent GPU.
//   1. parity: every CUDA kernel against a CPU reference (double accumulation) on random,
//      non-zero data of random odd shapes; prints the relative error by norm per case.
//   2. timings: CUDA events, median of timed runs after warm-up, against cuBLAS (dlopen'ed
//      from $SPARSENN_CUBLAS or the usual names) on the shapes; GB/s or TFLOP/s beside.
// Usage: sparsenn_cuda_check [--parity-only] [--quick]. Exit status 1 when a parity case fails.
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <library_types.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cuda_ops.h"
#include "cusparselt_timing.h"
#include "kernels.h"
#include "quest_reference.h"
#include "sparsenn/convert.h"

using namespace sparsenn;
using namespace sparsenn::cuda;
using sparsenn::gpu_check::ref_quest_page;

namespace {

std::mt19937_64 rng(20261128);

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

float uniform(float lo, float hi) { return lo + (hi - lo) * float(rng() % 1000000) / 1000000.0f; }
// Never zero: magnitude in [0.05, 1], random sign.
float nonzero() { return (rng() & 1 ? 1.0f : -1.0f) * uniform(0.05f, 1.0f); }

uint16_t f32_to_16(float f, DType dt) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if (dt == DType::BF16) return uint16_t((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
  // f16, round to nearest even (normal range only: our data is in [0.05, 1]).
  const uint32_t sign = (b >> 16) & 0x8000u;
  const int32_t exp = int32_t((b >> 23) & 0xff) - 127 + 15;
  uint32_t mant = b & 0x7fffffu;
  if (exp <= 0) return uint16_t(sign);
  uint32_t h = sign | (uint32_t(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return uint16_t(h);
}
float from16(uint16_t h, DType dt) { return dt == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h); }
const char* dname(DType d) { return d == DType::F32 ? "f32" : d == DType::BF16 ? "bf16" : "f16"; }

double rel_err(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = double(got[i]) - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  if (!std::isfinite(num)) return INFINITY;
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

int failures = 0, passes = 0;
void report(const std::string& name, double err, double tol) {
  const bool ok = err <= tol;
  (ok ? passes : failures)++;
  std::printf("%-4s %-58s rel err %.3e (tol %.0e)\n", ok ? "ok" : "FAIL", name.c_str(), err, tol);
}

template <typename T>
T* to_device(const std::vector<T>& h) {
  T* d = nullptr;
  ck(cudaMalloc(&d, std::max<size_t>(h.size() * sizeof(T), 4)), "cudaMalloc");
  ck(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "H2D");
  return d;
}

// ---- parity: matmul ------------------------------------------------------------------------

enum class Pattern { Dense, Sparse24, Csr };

// Random weight (dense [N, K] float values already rounded to dtype), with the pattern's zeros.
std::vector<float> random_weight(int64_t N, int64_t K, Pattern p, double density, DType dt) {
  std::vector<float> w(size_t(N * K), 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < K; g += 4) {
      int keep[4] = {1, 1, 1, 1};
      if (p == Pattern::Sparse24) {
        int idx[4] = {0, 1, 2, 3};
        std::shuffle(idx, idx + 4, rng);
        keep[idx[0]] = keep[idx[1]] = 0;
      }
      for (int j = 0; j < 4 && g + j < K; ++j) {
        if (!keep[j]) continue;
        if (p == Pattern::Csr && uniform(0, 1) >= density) continue;
        const float v = nonzero();
        w[size_t(n * K + g + j)] = dt == DType::F32 ? v : from16(f32_to_16(v, dt), dt);
      }
    }
  return w;
}

std::vector<double> ref_matmul(const std::vector<float>& x, const std::vector<float>& w, int64_t M, int64_t N,
                               int64_t K) {
  std::vector<double> y(size_t(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += double(x[size_t(m * K + k)]) * w[size_t(n * K + k)];
      y[size_t(m * N + n)] = acc;
    }
  return y;
}

DeviceWeight upload(const std::vector<float>& w, int64_t N, int64_t K, Pattern p, DType dt, int col_bytes) {
  std::vector<uint16_t> w16(w.size());
  for (size_t i = 0; i < w.size(); ++i) w16[i] = f32_to_16(w[i], dt);
  if (p == Pattern::Dense) return dt == DType::F32 ? upload_dense(w.data(), dt, N, K) : upload_dense(w16.data(), dt, N, K);
  if (p == Pattern::Sparse24) {
    // Through the N:M path (values + position bytes), as the addon receives it.
    const int64_t groups = (K + 3) / 4;
    std::vector<uint16_t> vals(size_t(N * groups * 2), 0);
    std::vector<uint8_t> pos(vals.size(), 0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t g = 0; g < groups; ++g) {
        int j = 0;
        for (int p4 = 0; p4 < 4 && g * 4 + p4 < K; ++p4)
          if (w[size_t(n * K + g * 4 + p4)] != 0.0f) {
            vals[size_t((n * groups + g) * 2 + j)] = w16[size_t(n * K + g * 4 + p4)];
            pos[size_t((n * groups + g) * 2 + j)] = uint8_t(p4);
            ++j;
          }
      }
    return upload_nm(vals.data(), pos.data(), 2, 4, dt, N, K);
  }
  std::vector<uint32_t> rp(size_t(N + 1), 0);
  std::vector<uint32_t> c32;
  std::vector<uint16_t> c16, v16;
  std::vector<float> v32;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k)
      if (w[size_t(n * K + k)] != 0.0f) {
        c32.push_back(uint32_t(k));
        c16.push_back(uint16_t(k));
        v32.push_back(w[size_t(n * K + k)]);
        v16.push_back(w16[size_t(n * K + k)]);
      }
    rp[size_t(n + 1)] = uint32_t(c32.size());
  }
  const void* ci = col_bytes == 2 ? static_cast<const void*>(c16.data()) : static_cast<const void*>(c32.data());
  const void* vv = dt == DType::F32 ? static_cast<const void*>(v32.data()) : static_cast<const void*>(v16.data());
  return upload_csr(rp.data(), ci, col_bytes, vv, dt, N, K);
}

void parity_matmul(bool quick) {
  const int64_t shapes[][2] = {{1, 1}, {7, 5}, {16, 32}, {17, 33}, {37, 70}, {64, 96}, {129, 250}, {301, 515}};
  const int64_t Ms[] = {1, 2, 3, 8, 9, 16, 17, 33, 70};
  struct Kind {
    Pattern p;
    DType dt;
    int col_bytes;
    const char* name;
  } kinds[] = {{Pattern::Dense, DType::F16, 0, "dense tc"},      {Pattern::Dense, DType::BF16, 0, "dense tc"},
               {Pattern::Dense, DType::F32, 0, "dense simt"},    {Pattern::Sparse24, DType::F16, 0, "2:4 mma.sp"},
               {Pattern::Sparse24, DType::BF16, 0, "2:4 mma.sp"}, {Pattern::Csr, DType::F16, 2, "csr u16"},
               {Pattern::Csr, DType::BF16, 4, "csr u32"},        {Pattern::Csr, DType::F32, 2, "csr u16"}};
  for (const Kind& kind : kinds)
    for (const auto& s : shapes) {
      const int64_t N = s[0], K = s[1];
      for (int64_t M : Ms) {
        if (quick && M > 17) continue;
        const auto w = random_weight(N, K, kind.p, 0.1 + uniform(0, 0.4), kind.dt);
        std::vector<float> x(size_t(M * K));
        for (auto& v : x) v = nonzero();
        DeviceWeight dw = upload(w, N, K, kind.p, kind.dt, kind.col_bytes);
        std::vector<float> y(size_t(M * N), NAN);
        matmul_host(dw, x.data(), M, y.data());
        free_weight(dw);
        const double tol = kind.dt == DType::F32 ? 1e-5 : 1e-2;
        report(std::string("matmul ") + kind.name + " " + dname(kind.dt) + " M=" + std::to_string(M) +
                   " N=" + std::to_string(N) + " K=" + std::to_string(K),
               rel_err(y, ref_matmul(x, w, M, N, K)), tol);
      }
    }
  // A weight that is not 2:4 must be refused, not silently truncated.
  try {
    std::vector<uint16_t> dense(64, f32_to_16(0.5f, DType::F16));
    DeviceWeight w = upload_sparse24_from_dense(dense.data(), DType::F16, 4, 16);
    free_weight(w);
    report("2:4 upload refuses a dense weight", 1.0, 0.0);
  } catch (const CudaError& e) {
    report(std::string("2:4 upload refuses a dense weight (") + e.code + ")", 0.0, 0.0);
  }
}

// ---- parity: attention ---------------------------------------------------------------------

struct AttnCase {
  int64_t heads, kv_heads, D, length;
  SelectionKind kind;
  int32_t page;
};

void parity_attention(bool quick) {
  std::vector<AttnCase> cases = {{1, 1, 8, 1, SelectionKind::All, 0},      {4, 2, 64, 37, SelectionKind::All, 0},
                                 {8, 8, 128, 300, SelectionKind::All, 0},  {32, 8, 128, 1029, SelectionKind::All, 0},
                                 {6, 2, 30, 257, SelectionKind::All, 0},   {8, 2, 64, 1000, SelectionKind::Pages, 16},
                                 {4, 4, 128, 777, SelectionKind::Pages, 64}, {4, 1, 32, 500, SelectionKind::Indices, 1},
                                 {64, 1, 64, 600, SelectionKind::All, 0}};
  if (!quick) cases.push_back({32, 8, 128, 20000, SelectionKind::Pages, 16});
  for (const AttnCase& c : cases) {
    const int64_t D = c.D, L = c.length, H = c.heads, KH = c.kv_heads, G = H / KH;
    // Token-major cache [L, KH, D] (head_stride D, token_stride KH*D) for odd-numbered cases,
    // head-major [KH, L, D] (head_stride L*D, token_stride D) for the others.
    const bool head_major = (&c - cases.data()) % 2 == 0;
    const int64_t hs = head_major ? L * D : D, ts = head_major ? D : KH * D;
    auto at = [&](int64_t t, int64_t kvh, int64_t d) { return size_t(kvh * hs + t * ts + d); };
    std::vector<uint16_t> k16(size_t(L * KH * D)), v16(k16.size());
    std::vector<float> kf(k16.size()), vf(k16.size()), q(size_t(H * D));
    for (size_t i = 0; i < k16.size(); ++i) {
      k16[i] = f32_to_16(nonzero(), DType::F16);
      v16[i] = f32_to_16(nonzero(), DType::F16);
      kf[i] = f16_to_f32(k16[i]);
      vf[i] = f16_to_f32(v16[i]);
    }
    for (auto& v : q) v = nonzero();
    // Selection: per KV head a random subset of pages (or tokens), in random order.
    std::vector<int32_t> offsets(size_t(KH + 1), 0), items;
    int64_t entries_max = 0;
    std::vector<std::vector<int64_t>> tokens(static_cast<size_t>(KH));
    const int32_t page = c.kind == SelectionKind::Pages ? c.page : 1;
    for (int64_t h = 0; h < KH; ++h) {
      if (c.kind == SelectionKind::All) {
        for (int64_t t = 0; t < L; ++t) tokens[size_t(h)].push_back(t);
        continue;
      }
      const int64_t units = (L + page - 1) / page;
      std::vector<int32_t> all(static_cast<size_t>(units));
      for (int64_t u = 0; u < units; ++u) all[size_t(u)] = int32_t(u);
      std::shuffle(all.begin(), all.end(), rng);
      const int64_t take = std::max<int64_t>(1, units / 3 + int64_t(h));
      for (int64_t e = 0; e < std::min(take, units); ++e) {
        items.push_back(all[size_t(e)]);
        for (int64_t t = int64_t(all[size_t(e)]) * page; t < std::min<int64_t>(L, (all[size_t(e)] + 1) * int64_t(page)); ++t)
          tokens[size_t(h)].push_back(t);
      }
      offsets[size_t(h + 1)] = int32_t(items.size());
      entries_max = std::max<int64_t>(entries_max, offsets[size_t(h + 1)] - offsets[size_t(h)]);
    }
    const float scale = 1.0f / std::sqrt(float(D));
    std::vector<double> want(size_t(H * D), 0.0);
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / G;
      const auto& toks = tokens[size_t(kvh)];
      std::vector<double> s(toks.size());
      double mx = -INFINITY;
      for (size_t i = 0; i < toks.size(); ++i) {
        double acc = 0;
        for (int64_t d = 0; d < D; ++d) acc += double(q[size_t(h * D + d)]) * kf[at(toks[i], kvh, d)];
        s[i] = acc * scale;
        mx = std::max(mx, s[i]);
      }
      double sum = 0;
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (size_t i = 0; i < toks.size(); ++i)
        for (int64_t d = 0; d < D; ++d) want[size_t(h * D + d)] += s[i] / sum * vf[at(toks[i], kvh, d)];
    }
    uint16_t* dk = to_device(k16);
    uint16_t* dv = to_device(v16);
    float* dq = to_device(q);
    int32_t* doff = to_device(offsets);
    int32_t* ditems = to_device(items.empty() ? std::vector<int32_t>{0} : items);
    float* dout = nullptr;
    ck(cudaMalloc(&dout, size_t(H * D) * 4), "cudaMalloc");
    const KvView kv{dk, dv, DType::F16, KH, L, D, hs, ts};
    const SelectionView sel{c.kind, doff, ditems, page};
    attention_decode_device(dq, H, kv, sel, entries_max, scale, dout, nullptr);
    ck(cudaDeviceSynchronize(), "attention");
    std::vector<float> got(size_t(H * D));
    ck(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    for (void* p : {(void*)dk, (void*)dv, (void*)dq, (void*)doff, (void*)ditems, (void*)dout}) cudaFree(p);
    const char* kn = c.kind == SelectionKind::All ? "all" : c.kind == SelectionKind::Pages ? "pages" : "indices";
    report("attention decode " + std::string(kn) + (head_major ? " head-major" : " token-major") + " H=" + std::to_string(H) + " KVH=" + std::to_string(KH) +
               " D=" + std::to_string(D) + " L=" + std::to_string(L),
           rel_err(got, want), 1e-2);
  }
}

// ---- parity: BSR and CSR SpMM (prefill sizes) ---------------------------------------------

// A random BSR weight [N, K] with [br, bc] blocks kept with probability `density` (at least one
// per matrix). The zero padding of edge blocks is filled with nonzero garbage on purpose: the
// kernel must crop it away. Returns the dense (cropped, rounded) weight for the reference.
std::vector<float> upload_random_bsr(int64_t N, int64_t K, int64_t br, int64_t bc, double density, DType dt,
                                     int col_bytes, DeviceWeight* out) {
  const int64_t nbr = (N + br - 1) / br, nbc = (K + bc - 1) / bc;
  std::vector<float> dense(size_t(N * K), 0.0f);
  std::vector<uint32_t> rp(size_t(nbr + 1), 0);
  std::vector<uint32_t> c32;
  std::vector<uint16_t> c16, v16;
  std::vector<float> v32;
  for (int64_t r = 0; r < nbr; ++r) {
    for (int64_t c = 0; c < nbc; ++c) {
      if (uniform(0, 1) >= density && !(r == 0 && c == nbc - 1)) continue;
      c32.push_back(uint32_t(c));
      c16.push_back(uint16_t(c));
      for (int64_t i = 0; i < br; ++i)
        for (int64_t j = 0; j < bc; ++j) {
          const float v = nonzero();
          const float rounded = dt == DType::F32 ? v : from16(f32_to_16(v, dt), dt);
          v32.push_back(v);
          v16.push_back(f32_to_16(v, dt));
          const int64_t row = r * br + i, col = c * bc + j;
          if (row < N && col < K) dense[size_t(row * K + col)] = rounded;
        }
    }
    rp[size_t(r + 1)] = uint32_t(c32.size());
  }
  const void* ci = col_bytes == 2 ? static_cast<const void*>(c16.data()) : static_cast<const void*>(c32.data());
  const void* vv = dt == DType::F32 ? static_cast<const void*>(v32.data()) : static_cast<const void*>(v16.data());
  *out = upload_bsr(rp.data(), ci, col_bytes, vv, dt, N, K, br, bc);
  return dense;
}

void parity_spmm(bool quick) {
  struct BsrCase {
    int64_t N, K, br, bc;
  };
  const BsrCase cases[] = {{37, 70, 1, 16}, {130, 33, 16, 1}, {64, 96, 4, 4}, {129, 250, 8, 8}, {61, 47, 3, 5},
                           {150, 77, 100, 3}, {45, 301, 2, 130}, {17, 1, 1, 1}, {300, 515, 32, 32}};
  const int64_t Ms[] = {1, 5, 33, 70, 257};
  const DType dts[] = {DType::F32, DType::BF16, DType::F16};
  int i = 0;
  for (const BsrCase& c : cases)
    for (int64_t M : Ms) {
      if (quick && M > 70) continue;
      const DType dt = dts[i % 3];
      const int col_bytes = i++ % 2 ? 4 : 2;
      DeviceWeight w;
      const auto dense = upload_random_bsr(c.N, c.K, c.br, c.bc, 0.2 + uniform(0, 0.5), dt, col_bytes, &w);
      std::vector<float> x(size_t(M * c.K));
      for (auto& v : x) v = nonzero();
      std::vector<float> y(size_t(M * c.N), NAN);
      matmul_host(w, x.data(), M, y.data());
      free_weight(w);
      report("spmm bsr " + std::to_string(c.br) + "x" + std::to_string(c.bc) + " " + dname(dt) + " u" +
                 std::to_string(col_bytes * 8) + " M=" + std::to_string(M) + " N=" + std::to_string(c.N) +
                 " K=" + std::to_string(c.K),
             rel_err(y, ref_matmul(x, dense, M, c.N, c.K)), dt == DType::F32 ? 1e-5 : 1e-2);
    }
  // CSR past the decode kernel's 16 tokens (kCsrSpmmMinTokens): the SpMM kernel, 128 tokens per warp.
  const int64_t csr_shapes[][2] = {{7, 5}, {129, 250}, {301, 515}, {1000, 33}};
  const int64_t csr_Ms[] = {17, 127, 129, 300};
  for (const auto& s : csr_shapes)
    for (int64_t M : csr_Ms) {
      if (quick && M > 129) continue;
      const DType dt = dts[i % 3];
      const int col_bytes = i++ % 2 ? 4 : 2;
      const auto w = random_weight(s[0], s[1], Pattern::Csr, 0.05 + uniform(0, 0.3), dt);
      std::vector<float> x(size_t(M * s[1]));
      for (auto& v : x) v = nonzero();
      DeviceWeight dw = upload(w, s[0], s[1], Pattern::Csr, dt, col_bytes);
      std::vector<float> y(size_t(M * s[0]), NAN);
      matmul_host(dw, x.data(), M, y.data());
      free_weight(dw);
      report(std::string("spmm csr ") + dname(dt) + " u" + std::to_string(col_bytes * 8) + " M=" + std::to_string(M) +
                 " N=" + std::to_string(s[0]) + " K=" + std::to_string(s[1]),
             rel_err(y, ref_matmul(x, w, M, s[0], s[1])), dt == DType::F32 ? 1e-5 : 1e-2);
    }
  // A block column past the matrix must be refused at upload.
  try {
    const uint32_t rp[2] = {0, 1};
    const uint16_t bad_col[1] = {5};
    const float vals[4] = {1, 2, 3, 4};
    DeviceWeight w = upload_bsr(rp, bad_col, 2, vals, DType::F32, 2, 4, 2, 2);
    free_weight(w);
    report("bsr upload refuses a block column past the matrix", 1.0, 0.0);
  } catch (const CudaError& e) {
    report(std::string("bsr upload refuses a block column past the matrix (") + e.code + ")", 0.0, 0.0);
  }
}

// ---- parity: Quest (page bounds, page scores, top-k, attention over the chosen pages) --------

// The CPU's answer for top-k (attention_top_k semantics): k largest, ascending, ties to the lower
// index, NaN as -inf; written independently of the kernel (a stable sort of indices).
std::vector<uint32_t> ref_top_k(const float* s, int64_t n, int64_t k) {
  std::vector<uint32_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = uint32_t(i);
  auto key = [&](uint32_t i) { return std::isnan(s[i]) ? -INFINITY : s[i]; };
  std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return key(a) > key(b); });
  idx.resize(size_t(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

void parity_top_k(bool quick) {
  // Rows with many exact ties (values from a small set), NaN, -0 and +0, infinities.
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {8, 1000, 63}, {2, 4097, 4097}, {5, 8192, 512}, {1, 131072, 40}};
  for (const auto& sh : shapes) {
    const int64_t rows = sh[0], n = sh[1], k = sh[2];
    if (quick && n > 10000) continue;
    std::vector<float> s(size_t(rows * n));
    for (auto& v : s) {
      const uint64_t r = rng() % 100;
      v = r < 3 ? NAN : r < 5 ? -0.0f : r < 7 ? 0.0f : r < 8 ? INFINITY : r < 9 ? -INFINITY
          : r < 50 ? float(int(rng() % 7) - 3) : nonzero();
    }
    float* ds = to_device(s);
    uint32_t* dout = nullptr;
    ck(cudaMalloc(&dout, size_t(rows * k) * 4), "malloc");
    top_k_device(ds, rows, n, k, dout, nullptr);
    ck(cudaDeviceSynchronize(), "top-k");
    std::vector<uint32_t> got(size_t(rows * k));
    ck(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    cudaFree(ds);
    cudaFree(dout);
    int64_t wrong = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const auto want = ref_top_k(s.data() + r * n, n, k);
      for (int64_t j = 0; j < k; ++j) wrong += got[size_t(r * k + j)] != want[size_t(j)];
    }
    report("top-k (ties, NaN, +-0, inf) rows=" + std::to_string(rows) + " n=" + std::to_string(n) + " k=" +
               std::to_string(k) + ": indices differing",
           double(wrong), 0.0);
  }
}

void parity_quest(bool quick) {
  struct QuestCase {
    int64_t heads, kv_heads, D, length;
    int32_t page;
  };
  std::vector<QuestCase> cases = {{4, 2, 64, 37, 16}, {8, 8, 128, 1000, 16}, {6, 2, 30, 257, 7},
                                  {32, 8, 128, 4099, 16}, {12, 1, 64, 900, 32}, {1, 1, 8, 16, 16}};
  if (!quick) cases.push_back({32, 8, 128, 65536 + 5, 16});
  int idx = 0;
  for (const QuestCase& c : cases) {
    const int64_t D = c.D, L = c.length, H = c.heads, KH = c.kv_heads, G = H / KH, P = c.page;
    const bool head_major = idx++ % 2 == 0;
    const int64_t hs = head_major ? L * D : D, ts = head_major ? D : KH * D;
    auto at = [&](int64_t t, int64_t h, int64_t d) { return size_t(h * hs + t * ts + d); };
    std::vector<uint16_t> k16(size_t(L * KH * D)), v16(k16.size());
    std::vector<float> kf(k16.size()), vf(k16.size()), q(size_t(H * D));
    for (size_t i = 0; i < k16.size(); ++i) {
      k16[i] = f32_to_16(nonzero(), DType::F16);
      v16[i] = f32_to_16(nonzero(), DType::F16);
      kf[i] = f16_to_f32(k16[i]);
      vf[i] = f16_to_f32(v16[i]);
    }
    for (auto& v : q) v = nonzero();
    const int64_t full = L / P, capacity = full + 3;
    // Reference bounds.
    std::vector<int8_t> want_codes(size_t(KH * capacity * 2 * D), 0);
    std::vector<float> want_scales(size_t(KH * capacity), 0.0f);
    for (int64_t h = 0; h < KH; ++h)
      for (int64_t p = 0; p < full; ++p)
        ref_quest_page([&](int64_t t, int64_t d) { return kf[at(t, h, d)]; }, p * P, P, D,
                       &want_codes[size_t((h * capacity + p) * 2 * D)], &want_scales[size_t(h * capacity + p)]);
    uint16_t* dk = to_device(k16);
    uint16_t* dv = to_device(v16);
    float* dq = to_device(q);
    int8_t* dcodes = to_device(std::vector<int8_t>(want_codes.size(), 0));
    float* dscales = to_device(std::vector<float>(want_scales.size(), 0.0f));
    const KvView kv{dk, dv, DType::F16, KH, L, D, hs, ts};
    const QuestBoundsView bv{dcodes, dscales, KH, capacity, D};
    // Incrementally, as decoding builds them: the first third of the pages, then the rest.
    quest_page_bounds_device(kv, int32_t(P), 0, full / 3, bv, nullptr);
    quest_page_bounds_device(kv, int32_t(P), full / 3, full, bv, nullptr);
    std::vector<int8_t> got_codes(want_codes.size());
    std::vector<float> got_scales(want_scales.size());
    ck(cudaDeviceSynchronize(), "quest bounds");
    ck(cudaMemcpy(got_codes.data(), dcodes, got_codes.size(), cudaMemcpyDeviceToHost), "D2H");
    ck(cudaMemcpy(got_scales.data(), dscales, got_scales.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    int64_t wrong = 0;
    for (size_t i = 0; i < got_codes.size(); ++i) wrong += got_codes[i] != want_codes[i];
    for (size_t i = 0; i < got_scales.size(); ++i) wrong += std::memcmp(&got_scales[i], &want_scales[i], 4) != 0;
    const std::string shape = " H=" + std::to_string(H) + " KVH=" + std::to_string(KH) + " D=" + std::to_string(D) +
                              " L=" + std::to_string(L) + " page=" + std::to_string(P) +
                              (head_major ? " head-major" : " token-major");
    report("quest page bounds (int8 codes + f32 scales differing)" + shape, double(wrong), 0.0);
    // Selection: the complete pages are candidates, the current (partial or next) page is added.
    const int64_t current = full, keep = std::min<int64_t>(current, 1 + current / 16 + int64_t(rng() % 3));
    float* dscores = nullptr;
    int32_t *doff = nullptr, *ditems = nullptr;
    ck(cudaMalloc(&dscores, size_t(std::max<int64_t>(KH * current, 1)) * 4), "malloc");
    ck(cudaMalloc(&doff, size_t(KH + 1) * 4), "malloc");
    ck(cudaMalloc(&ditems, size_t(KH * (keep + 1)) * 4), "malloc");
    quest_select_device(dq, H, bv, current, keep, dscores, doff, ditems, nullptr);
    ck(cudaDeviceSynchronize(), "quest select");
    std::vector<float> scores(size_t(KH * current));
    std::vector<int32_t> offsets(size_t(KH + 1)), items(size_t(KH * (keep + 1)));
    ck(cudaMemcpy(scores.data(), dscores, scores.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    ck(cudaMemcpy(offsets.data(), doff, offsets.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    ck(cudaMemcpy(items.data(), ditems, items.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    std::vector<double> want_s(scores.size());
    for (int64_t h = 0; h < KH; ++h)
      for (int64_t p = 0; p < current; ++p) {
        double best = -INFINITY;
        for (int64_t g = h * G; g < (h + 1) * G; ++g) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d) {
            const double x = q[size_t(g * D + d)];
            const double hi = want_codes[size_t((h * capacity + p) * 2 * D + d)];
            const double lo = want_codes[size_t((h * capacity + p) * 2 * D + D + d)];
            s += std::max(x * hi, x * lo);
          }
          best = std::max(best, double(want_scales[size_t(h * capacity + p)]) * s);
        }
        want_s[size_t(h * current + p)] = best;
      }
    report("quest page scores (group-max bound)" + shape, rel_err(scores, want_s), 1e-5);
    // The chosen pages: exactly the CPU's top-k of the GPU's own scores (no tie ambiguity), then current.
    wrong = 0;
    for (int64_t h = 0; h < KH; ++h) {
      wrong += offsets[size_t(h)] != int32_t(h * (keep + 1));
      const auto want = ref_top_k(scores.data() + h * current, current, keep);
      for (int64_t j = 0; j < keep; ++j) wrong += items[size_t(h * (keep + 1) + j)] != int32_t(want[size_t(j)]);
      wrong += items[size_t(h * (keep + 1) + keep)] != int32_t(current);
    }
    wrong += offsets[size_t(KH)] != int32_t(KH * (keep + 1));
    report("quest selection (entries differing) keep=" + std::to_string(keep) + shape, double(wrong), 0.0);
    // Attention over the selection, straight from the device buffers.
    const float scale = 1.0f / std::sqrt(float(D));
    float* dout = nullptr;
    ck(cudaMalloc(&dout, size_t(H * D) * 4), "malloc");
    attention_decode_device(dq, H, kv, SelectionView{SelectionKind::Pages, doff, ditems, int32_t(P)}, keep + 1, scale,
                            dout, nullptr);
    std::vector<float> got(size_t(H * D));
    ck(cudaDeviceSynchronize(), "attention over quest pages");
    ck(cudaMemcpy(got.data(), dout, got.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    std::vector<double> want(size_t(H * D), 0.0);
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / G;
      std::vector<int64_t> toks;
      for (int64_t j = 0; j <= keep; ++j)
        for (int64_t t = int64_t(items[size_t(kvh * (keep + 1) + j)]) * P; t < std::min(L, (items[size_t(kvh * (keep + 1) + j)] + 1) * P); ++t)
          toks.push_back(t);
      std::vector<double> s(toks.size());
      double mx = -INFINITY, sum = 0;
      for (size_t i = 0; i < toks.size(); ++i) {
        double acc = 0;
        for (int64_t d = 0; d < D; ++d) acc += double(q[size_t(h * D + d)]) * kf[at(toks[i], kvh, d)];
        mx = std::max(mx, s[i] = acc * scale);
      }
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (size_t i = 0; i < toks.size(); ++i)
        for (int64_t d = 0; d < D; ++d) want[size_t(h * D + d)] += s[i] / sum * vf[at(toks[i], kvh, d)];
    }
    report("quest attention over the chosen pages" + shape, rel_err(got, want), 1e-2);
    for (void* p : {(void*)dk, (void*)dv, (void*)dq, (void*)dcodes, (void*)dscales, (void*)dscores, (void*)doff,
                    (void*)ditems, (void*)dout})
      cudaFree(p);
  }
  // Special pages: all zero (scale 0, codes 0), one +inf key and one NaN key (scale +inf, codes
  // +-127), next to an ordinary page; KV heads 2, D 24, pages of 8 tokens.
  {
    const int64_t KH = 2, D = 24, P = 8, L = 4 * P;
    std::vector<uint16_t> k16(size_t(KH * L * D));
    for (auto& v : k16) v = f32_to_16(nonzero(), DType::F16);
    for (int64_t h = 0; h < KH; ++h) {
      for (int64_t i = 0; i < P * D; ++i) k16[size_t((h * L + P) * D + i)] = 0;  // page 1 all zero
      k16[size_t((h * L + 2 * P + 3) * D + 5)] = 0x7c00;                        // page 2: +inf
      k16[size_t((h * L + 3 * P + 6) * D + 17)] = 0x7e00;                       // page 3: NaN
    }
    std::vector<int8_t> want_codes(size_t(KH * 4 * 2 * D));
    std::vector<float> want_scales(size_t(KH * 4));
    for (int64_t h = 0; h < KH; ++h)
      for (int64_t p = 0; p < 4; ++p)
        ref_quest_page([&](int64_t t, int64_t d) { return f16_to_f32(k16[size_t((h * L + t) * D + d)]); }, p * P, P, D,
                       &want_codes[size_t((h * 4 + p) * 2 * D)], &want_scales[size_t(h * 4 + p)]);
    uint16_t* dk = to_device(k16);
    int8_t* dcodes = to_device(std::vector<int8_t>(want_codes.size(), 0));
    float* dscales = to_device(std::vector<float>(want_scales.size(), 0.0f));
    quest_page_bounds_device(KvView{dk, dk, DType::F16, KH, L, D, L * D, D}, int32_t(P), 0, 4,
                             QuestBoundsView{dcodes, dscales, KH, 4, D}, nullptr);
    std::vector<int8_t> got_codes(want_codes.size());
    std::vector<float> got_scales(want_scales.size());
    ck(cudaDeviceSynchronize(), "quest bounds");
    ck(cudaMemcpy(got_codes.data(), dcodes, got_codes.size(), cudaMemcpyDeviceToHost), "D2H");
    ck(cudaMemcpy(got_scales.data(), dscales, got_scales.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    int64_t wrong = 0;
    for (size_t i = 0; i < got_codes.size(); ++i) wrong += got_codes[i] != want_codes[i];
    for (size_t i = 0; i < got_scales.size(); ++i) wrong += std::memcmp(&got_scales[i], &want_scales[i], 4) != 0;
    wrong += !(want_scales[1] == 0.0f && std::isinf(want_scales[2]) && std::isinf(want_scales[3]));  // the reference itself
    report("quest page bounds of zero / +inf / NaN pages (entries differing)", double(wrong), 0.0);
    for (void* p : {(void*)dk, (void*)dcodes, (void*)dscales}) cudaFree(p);
  }
}

// ---- parity: the rest of a decode step (RMSNorm, RoPE, SwiGLU, softmax, argmax, sampling) -----

std::vector<float> from_device(const float* d, size_t n) {
  std::vector<float> h(n);
  ck(cudaDeviceSynchronize(), "kernel");
  ck(cudaMemcpy(h.data(), d, n * 4, cudaMemcpyDeviceToHost), "D2H");
  return h;
}

void parity_decode_step() {
  // RMSNorm.
  for (const auto& s : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {5, 4096}, {2, 5120}, {17, 333}}) {
    const int64_t rows = s.first, dim = s.second;
    std::vector<float> x(static_cast<size_t>(rows * dim)), g(static_cast<size_t>(dim));
    for (auto& v : x) v = nonzero() * 3;
    for (auto& v : g) v = nonzero();
    const float eps = 1e-5f;
    float* dx = to_device(x);
    float* dg = to_device(g);
    rmsnorm_device(dx, dg, rows, dim, eps, dx, nullptr);  // in place, as a decode step runs it
    const auto got = from_device(dx, x.size());
    std::vector<double> want(x.size());
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < dim; ++i) ss += double(x[size_t(r * dim + i)]) * x[size_t(r * dim + i)];
      const double sc = 1 / std::sqrt(ss / double(dim) + eps);
      for (int64_t i = 0; i < dim; ++i) want[size_t(r * dim + i)] = x[size_t(r * dim + i)] * sc * g[size_t(i)];
    }
    report("rmsnorm rows=" + std::to_string(rows) + " dim=" + std::to_string(dim), rel_err(got, want), 1e-5);
    cudaFree(dx);
    cudaFree(dg);
  }
  // RoPE, both layouts, positions up to the hundred thousands.
  struct RopeCase {
    int64_t rows, heads, D, pos0;
    RopeLayout layout;
  };
  for (const RopeCase& c : {RopeCase{1, 1, 2, 0, RopeLayout::Interleaved}, RopeCase{3, 5, 6, 7, RopeLayout::Half},
                            RopeCase{1, 32, 128, 131071, RopeLayout::Half}, RopeCase{7, 8, 64, 99991, RopeLayout::Interleaved},
                            RopeCase{300, 4, 128, 0, RopeLayout::Half}}) {
    const double theta = c.layout == RopeLayout::Half ? 500000.0 : 10000.0;
    std::vector<float> x(size_t(c.rows * c.heads * c.D));
    for (auto& v : x) v = nonzero();
    float* dx = to_device(x);
    rope_device(dx, c.rows, c.heads, c.D, c.pos0, theta, c.layout, nullptr);
    const auto got = from_device(dx, x.size());
    std::vector<double> want(x.begin(), x.end());
    const int64_t half = c.D / 2;
    for (int64_t r = 0; r < c.rows; ++r)
      for (int64_t i = 0; i < half; ++i) {
        const double angle = double(c.pos0 + r) * std::pow(theta, double(-2 * i) / double(c.D));
        const double cs = std::cos(angle), sn = std::sin(angle);
        for (int64_t h = 0; h < c.heads; ++h) {
          const int64_t base = (r * c.heads + h) * c.D;
          const int64_t a = c.layout == RopeLayout::Interleaved ? base + 2 * i : base + i;
          const int64_t b = c.layout == RopeLayout::Interleaved ? a + 1 : a + half;
          want[size_t(a)] = x[size_t(a)] * cs - x[size_t(b)] * sn;
          want[size_t(b)] = x[size_t(a)] * sn + x[size_t(b)] * cs;
        }
      }
    report(std::string("rope ") + (c.layout == RopeLayout::Half ? "half" : "interleaved") + " rows=" +
               std::to_string(c.rows) + " heads=" + std::to_string(c.heads) + " D=" + std::to_string(c.D) +
               " pos0=" + std::to_string(c.pos0),
           rel_err(got, want), 1e-5);
    cudaFree(dx);
  }
  // SwiGLU, including large |gate| where e^-x overflows.
  for (int64_t n : {1, 77, 11008, 14336 * 3 + 1}) {
    std::vector<float> gate(static_cast<size_t>(n)), up(static_cast<size_t>(n));
    for (auto& v : gate) v = nonzero() * (rng() % 10 == 0 ? 60.0f : 4.0f);
    for (auto& v : up) v = nonzero();
    float* dg = to_device(gate);
    float* du = to_device(up);
    swiglu_device(dg, du, n, nullptr);
    const auto got = from_device(dg, gate.size());
    std::vector<double> want(gate.size());
    for (size_t i = 0; i < gate.size(); ++i) want[i] = gate[i] / (1 + std::exp(-double(gate[i]))) * up[i];
    report("swiglu n=" + std::to_string(n), rel_err(got, want), 1e-5);
    cudaFree(dg);
    cudaFree(du);
  }
  // Softmax with temperature, argmax (ties to the lowest index), sampling by CDF inversion.
  for (const auto& s : {std::pair<int64_t, int64_t>{1, 1}, {3, 1000}, {2, 32000}, {4, 128256}}) {
    const int64_t rows = s.first, n = s.second;
    std::vector<float> logits(size_t(rows * n));
    for (auto& v : logits) v = nonzero() * 8;
    for (int64_t r = 0; r < rows; ++r) {  // a tie for the maximum in every row
      const int64_t a = int64_t(rng() % uint64_t(n)), b = int64_t(rng() % uint64_t(n));
      logits[size_t(r * n + a)] = logits[size_t(r * n + b)] = 20.0f;
    }
    float* dl = to_device(logits);
    int32_t* dpick = nullptr;
    ck(cudaMalloc(&dpick, size_t(rows) * 4), "malloc");
    argmax_device(dl, rows, n, dpick, nullptr);
    std::vector<int32_t> pick(static_cast<size_t>(rows));
    ck(cudaDeviceSynchronize(), "argmax");
    ck(cudaMemcpy(pick.data(), dpick, pick.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    int64_t wrong = 0;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i)
        if (logits[size_t(r * n + i)] > logits[size_t(r * n + best)]) best = i;
      wrong += pick[size_t(r)] != best;
    }
    report("argmax rows=" + std::to_string(rows) + " n=" + std::to_string(n) + ": rows differing", double(wrong), 0.0);
    const float temperature = 0.7f;
    softmax_device(dl, rows, n, temperature, nullptr);
    const auto probs = from_device(dl, logits.size());
    std::vector<double> want(logits.size());
    for (int64_t r = 0; r < rows; ++r) {
      double mx = -INFINITY, sum = 0;
      for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(logits[size_t(r * n + i)]) / temperature);
      for (int64_t i = 0; i < n; ++i) sum += (want[size_t(r * n + i)] = std::exp(logits[size_t(r * n + i)] / temperature - mx));
      for (int64_t i = 0; i < n; ++i) want[size_t(r * n + i)] /= sum;
    }
    report("softmax T=0.7 rows=" + std::to_string(rows) + " n=" + std::to_string(n), rel_err(probs, want), 1e-5);
    // Sampling: the pick must be where u·Σp falls in the (double) CDF, up to f32 rounding of the sums.
    std::vector<float> u(static_cast<size_t>(rows));
    for (auto& v : u) v = uniform(0, 0.999f);
    float* du = to_device(u);
    sample_device(dl, rows, n, du, dpick, nullptr);
    ck(cudaDeviceSynchronize(), "sample");
    ck(cudaMemcpy(pick.data(), dpick, pick.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    wrong = 0;
    for (int64_t r = 0; r < rows; ++r) {
      double total = 0;
      for (int64_t i = 0; i < n; ++i) total += probs[size_t(r * n + i)];
      const double target = u[size_t(r)] * total, slack = 1e-5 * total;
      const int64_t g = pick[size_t(r)];
      double before = 0;
      for (int64_t i = 0; i < g && i < n; ++i) before += probs[size_t(r * n + i)];
      const bool ok = g >= 0 && g < n && before <= target + slack && before + probs[size_t(r * n + g)] >= target - slack;
      wrong += !ok;
    }
    report("sample (CDF inversion) rows=" + std::to_string(rows) + " n=" + std::to_string(n) + ": rows wrong",
           double(wrong), 0.0);
    cudaFree(dl);
    cudaFree(dpick);
    cudaFree(du);
  }
  // Top-k sampling composed on the device: top-k -> gather -> softmax -> sample -> index.
  {
    const int64_t rows = 3, n = 32000, k = 40;
    const float temperature = 0.8f;
    std::vector<float> logits(size_t(rows * n)), u(static_cast<size_t>(rows));
    for (auto& v : logits) v = nonzero() * 8;
    for (auto& v : u) v = uniform(0, 0.999f);
    float* dl = to_device(logits);
    float* du = to_device(u);
    uint32_t* didx = nullptr;
    float* dsub = nullptr;
    int32_t* dpick = nullptr;
    ck(cudaMalloc(&didx, size_t(rows * k) * 4), "malloc");
    ck(cudaMalloc(&dsub, size_t(rows * k) * 4), "malloc");
    ck(cudaMalloc(&dpick, size_t(rows) * 4), "malloc");
    top_k_device(dl, rows, n, k, didx, nullptr);
    gather_device(dl, rows, n, didx, k, dsub, nullptr);
    softmax_device(dsub, rows, k, temperature, nullptr);
    sample_device(dsub, rows, k, du, dpick, nullptr);
    std::vector<uint32_t> idx(size_t(rows * k));
    std::vector<int32_t> pick(static_cast<size_t>(rows));
    ck(cudaDeviceSynchronize(), "top-k sampling");
    ck(cudaMemcpy(idx.data(), didx, idx.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    ck(cudaMemcpy(pick.data(), dpick, pick.size() * 4, cudaMemcpyDeviceToHost), "D2H");
    int64_t wrong = 0;
    for (int64_t r = 0; r < rows; ++r) {
      // Reference: the k best logits by index, softmax in double, the CDF walk in index order.
      const auto best = ref_top_k(logits.data() + r * n, n, k);
      std::vector<double> p(static_cast<size_t>(k));
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < k; ++j) mx = std::max(mx, double(logits[size_t(r * n + best[size_t(j)])]) / temperature);
      for (int64_t j = 0; j < k; ++j) sum += (p[size_t(j)] = std::exp(logits[size_t(r * n + best[size_t(j)])] / temperature - mx));
      const double target = u[size_t(r)] * sum, slack = 1e-5 * sum;
      const int32_t g = pick[size_t(r)];
      double before = 0;
      for (int64_t j = 0; j < g && j < k; ++j) before += p[size_t(j)];
      const bool ok = g >= 0 && g < k && before <= target + slack && before + p[size_t(g)] >= target - slack;
      for (int64_t j = 0; j < k; ++j) wrong += idx[size_t(r * k + j)] != best[size_t(j)];
      wrong += !ok;
    }
    report("top-k sampling k=40 of 32000 (top-k, gather, softmax, sample): entries wrong", double(wrong), 0.0);
    for (void* ptr : {(void*)dl, (void*)du, (void*)didx, (void*)dsub, (void*)dpick}) cudaFree(ptr);
  }
  // Bad arguments are refused with a code, not launched.
  int refused = 0;
  try {
    rope_device(nullptr, 1, 1, 3, 0, 10000.0, RopeLayout::Half, nullptr);
  } catch (const CudaError& e) {
    refused += e.code == "ERR_SHAPE";
  }
  try {
    softmax_device(nullptr, 1, 4, 0.0f, nullptr);
  } catch (const CudaError& e) {
    refused += e.code == "ERR_ARG";
  }
  try {
    top_k_device(nullptr, 1, 4, 5, nullptr, nullptr);
  } catch (const CudaError& e) {
    refused += e.code == "ERR_ARG";
  }
  report("decode-step helpers refuse bad arguments (3 cases)", double(3 - refused), 0.0);
}

// ---- timing --------------------------------------------------------------------------------

struct Timer {
  cudaEvent_t a, b;
  Timer() {
    ck(cudaEventCreate(&a), "event");
    ck(cudaEventCreate(&b), "event");
  }
  // Median milliseconds of `reps` runs after `warm` warm-up runs.
  double median_ms(const std::function<void()>& f, int warm = 5, int reps = 25) {
    for (int i = 0; i < warm; ++i) f();
    ck(cudaDeviceSynchronize(), "warm-up");
    std::vector<float> t;
    for (int i = 0; i < reps; ++i) {
      ck(cudaEventRecord(a), "record");
      f();
      ck(cudaEventRecord(b), "record");
      ck(cudaEventSynchronize(b), "sync");
      float ms = 0;
      ck(cudaEventElapsedTime(&ms, a, b), "elapsed");
      t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
};

// cuBLAS through dlopen with our own prototypes (no cuBLAS headers or link dependency).
struct Cublas {
  using Create = int (*)(void**);
  using GemmEx = int (*)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                         const void*, void*, int, int, int, int);
  void* handle = nullptr;
  GemmEx gemm = nullptr;
  std::string where;
  bool load() {
    std::vector<std::string> names;
    if (const char* e = std::getenv("SPARSENN_CUBLAS")) names.push_back(e);
    for (const char* n : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) names.push_back(n);
    for (const auto& n : names) {
      void* lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!lib) continue;
      auto create = reinterpret_cast<Create>(dlsym(lib, "cublasCreate_v2"));
      gemm = reinterpret_cast<GemmEx>(dlsym(lib, "cublasGemmEx"));
      if (create && gemm && create(&handle) == 0) {
        where = n;
        return true;
      }
    }
    return false;
  }
  // Y[M, N] (row-major, f32) = X[M, K] (16-bit) · W[N, K]ᵀ (16-bit), f32 compute.
  int run(const void* w, const void* x, float* y, int64_t M, int64_t N, int64_t K, DType dt) const {
    const float one = 1.0f, zero = 0.0f;
    const int t16 = dt == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F;
    const int kOpN = 0, kOpT = 1, kCompute32F = 68, kGemmDefault = -1;
    return gemm(handle, kOpT, kOpN, int(N), int(M), int(K), &one, w, t16, int(K), x, t16, int(K), &zero, y, CUDA_R_32F,
                int(N), kCompute32F, kGemmDefault);
  }
};

std::vector<std::string> table;
void row(const std::string& s) {
  std::printf("%s\n", s.c_str());
  table.push_back(s);
}
std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c, d);
  return buf;
}

void timings(bool quick, double* hbm_gbs) {
  Timer timer;
  Cublas cublas;
  const bool have_cublas = cublas.load();
  std::printf("cuBLAS: %s\n", have_cublas ? cublas.where.c_str() : "not found (set SPARSENN_CUBLAS)");
  // Measured memory bandwidth: device-to-device copy of 2 GiB (read + write).
  {
    const size_t bytes = size_t(1) << 31;
    void *a = nullptr, *b = nullptr;
    ck(cudaMalloc(&a, bytes), "malloc");
    ck(cudaMalloc(&b, bytes), "malloc");
    ck(cudaMemset(a, 1, bytes), "memset");
    const double ms = timer.median_ms([&] { ck(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice), "copy"); }, 2, 10);
    *hbm_gbs = 2.0 * bytes / (ms * 1e6);
    cudaFree(a);
    cudaFree(b);
    row(fmt("memcpy D2D 2 GiB: %.3f ms, %.0f GB/s (measured HBM bandwidth, read+write)", ms, *hbm_gbs));
  }
  // Matmuls: ours dense vs ours 2:4 vs CSR vs cuBLAS dense, same 16-bit data.
  struct Shape {
    int64_t M, N, K;
  };
  std::vector<Shape> shapes = {{1, 8192, 8192}, {1, 28672, 8192}, {16, 8192, 8192}, {8192, 8192, 8192}};
  if (quick) shapes = {{1, 8192, 8192}, {4096, 4096, 4096}};
  for (const Shape& s : shapes) {
    const int64_t M = s.M, N = s.N, K = s.K;
    const DType dt = DType::F16;
    // Random 2:4 weight; the dense weight is the same with the zeros filled in (same bytes as a
    // real dense layer, never zeros in timed data).
    std::vector<uint16_t> wd(size_t(N * K)), ws(size_t(N * K), 0);
    for (int64_t i = 0; i < N * K; i += 4) {
      const int keep0 = int(rng() % 4), keep1 = (keep0 + 1 + int(rng() % 3)) % 4;
      for (int j = 0; j < 4; ++j) {
        wd[size_t(i + j)] = f32_to_16(nonzero(), dt);
        if (j == keep0 || j == keep1) ws[size_t(i + j)] = wd[size_t(i + j)];
      }
    }
    DeviceWeight dense = upload_dense(wd.data(), dt, N, K);
    DeviceWeight sparse = upload_sparse24_from_dense(ws.data(), dt, N, K);
    // CSR at 90% sparsity (f16 values, u16 indices) for the decode shapes.
    DeviceWeight csr{};
    const bool do_csr = M <= 16;
    if (do_csr) {
      std::vector<uint32_t> rp(size_t(N + 1), 0);
      std::vector<uint16_t> ci, cv;
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < K; ++k)
          if (rng() % 10 == 0) {
            ci.push_back(uint16_t(k));
            cv.push_back(wd[size_t(n * K + k)]);
          }
        rp[size_t(n + 1)] = uint32_t(ci.size());
      }
      csr = upload_csr(rp.data(), ci.data(), 2, cv.data(), dt, N, K);
    }
    std::vector<float> x(size_t(M * K));
    for (auto& v : x) v = nonzero();
    float* dx = to_device(x);
    float* dy = nullptr;
    ck(cudaMalloc(&dy, size_t(M * N) * 4), "malloc");
    const int64_t M_pad = tc_rows_padding(M), K_pad = dense.geo.tiles_k * 32;
    void* x16 = nullptr;  // packed B fragments for our kernels
    ck(cudaMalloc(&x16, size_t(M_pad * K_pad) * 2), "malloc");
    launch_pack_activations(dx, M, K, x16, M_pad, dense.geo.tiles_k, dt, nullptr);
    std::vector<uint16_t> xrow(x.size());  // row-major 16-bit X for cuBLAS
    for (size_t i = 0; i < x.size(); ++i) xrow[i] = f32_to_16(x[i], dt);
    uint16_t* xr16 = to_device(xrow);
    float* xt = nullptr;
    ck(cudaMalloc(&xt, size_t(K * rowwise_ld(M)) * 4), "malloc");
    launch_transpose(dx, M, K, xt, rowwise_ld(M), nullptr);
    void* wrow = nullptr;  // row-major f16 copy of the dense weight for cuBLAS
    ck(cudaMalloc(&wrow, size_t(N * K) * 2), "malloc");
    ck(cudaMemcpy(wrow, wd.data(), size_t(N * K) * 2, cudaMemcpyHostToDevice), "H2D");

    const double t_dense = timer.median_ms([&] { launch_tc_dense(dense, x16, M, dy, nullptr); });
    const double t_sparse = timer.median_ms([&] { launch_tc_sparse24(sparse, x16, M, dy, nullptr); });
    double t_cublas = NAN;
    if (have_cublas) {
      if (cublas.run(wrow, xr16, dy, M, N, K, dt) == 0)
        t_cublas = timer.median_ms([&] { cublas.run(wrow, xr16, dy, M, N, K, dt); });
      else std::printf("cublasGemmEx failed\n");
    }
    // At full size, our dense kernel must agree with cuBLAS on the same data (checks both calls).
    double vs_cublas = NAN;
    if (!std::isnan(t_cublas)) {
      std::vector<float> ya(size_t(M * N)), yb(size_t(M * N));
      launch_tc_dense(dense, x16, M, dy, nullptr);
      ck(cudaMemcpy(ya.data(), dy, ya.size() * 4, cudaMemcpyDeviceToHost), "D2H");
      cublas.run(wrow, xr16, dy, M, N, K, dt);
      ck(cudaMemcpy(yb.data(), dy, yb.size() * 4, cudaMemcpyDeviceToHost), "D2H");
      vs_cublas = rel_err(ya, std::vector<double>(yb.begin(), yb.end()));
      report("dense tc vs cuBLAS at " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K), vs_cublas, 1e-3);
    }
    // cuSPARSELt on the same 2:4 weight (its row counts must be multiples of 8: M is padded).
    double t_lt = NAN;
    {
      const int64_t M8 = (M + 7) / 8 * 8;
      std::vector<uint16_t> x8(size_t(M8 * K), 0);
      std::copy(xrow.begin(), xrow.end(), x8.begin());
      uint16_t* dx8 = to_device(x8);
      uint16_t* dws = to_device(ws);
      void* dy16 = nullptr;
      ck(cudaMalloc(&dy16, size_t(N * M8) * 2), "malloc");
      const CusparseltTiming lt = time_cusparselt(M8, N, K, dws, dx8, dy16, [&](const std::function<void()>& f) {
        return timer.median_ms(f);
      });
      if (lt.ok) t_lt = lt.ms;
      else std::printf("cuSPARSELt not timed: %s\n", lt.why.c_str());
      for (void* p : {(void*)dx8, (void*)dws, dy16}) cudaFree(p);
    }
    double t_csr = NAN;
    if (do_csr) t_csr = timer.median_ms([&] { launch_rowwise(csr, xt, M, dy, nullptr); });
    const double best_dense = std::isnan(t_cublas) ? t_dense : std::min(t_dense, t_cublas);
    const std::string shape = "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K);
    if (M <= 16) {
      const double gb_dense = double(N * K) * 2 / 1e9, gb_sparse = double(sparse.bytes) / 1e9;
      row("decode f16 " + shape + fmt(": ours dense %.4f ms (%.0f GB/s)", t_dense, gb_dense / (t_dense / 1e3)) +
          fmt(", cuBLAS %.4f ms (%.0f GB/s)", t_cublas, gb_dense / (t_cublas / 1e3)) +
          fmt(", 2:4 %.4f ms (%.0f GB/s) = %.2fx best dense", t_sparse, gb_sparse / (t_sparse / 1e3), best_dense / t_sparse) +
          fmt(", cuSPARSELt (M padded to 8) %.4f ms = %.2fx best dense", t_lt, best_dense / t_lt) +
          fmt(", CSR90%% %.4f ms (%.0f GB/s) = %.2fx best dense [ceiling 2:4 %.2fx]", t_csr,
              double(csr.bytes) / 1e9 / (t_csr / 1e3), best_dense / t_csr, gb_dense / gb_sparse));
    } else {
      const double flops = 2.0 * double(M) * N * K;
      row("gemm f16 " + shape + fmt(": ours dense %.3f ms (%.0f TFLOP/s)", t_dense, flops / t_dense / 1e9) +
          fmt(", cuBLAS %.3f ms (%.0f TFLOP/s)", t_cublas, flops / t_cublas / 1e9) +
          fmt(", 2:4 %.3f ms (%.0f dense-equiv TFLOP/s) = %.2fx best dense", t_sparse, flops / t_sparse / 1e9,
              best_dense / t_sparse) +
          fmt(", cuSPARSELt %.3f ms = %.2fx best dense", t_lt, best_dense / t_lt));
    }
    free_weight(dense);
    free_weight(sparse);
    if (do_csr) free_weight(csr);
    for (void* p : {(void*)dx, (void*)dy, x16, (void*)xr16, (void*)xt, wrow}) cudaFree(p);
  }
  // Decode attention at long context: dense vs Quest-style 1/16 of the pages.
  {
    const int64_t H = 32, KH = 8, D = 128, L = quick ? 32768 : 131072, page = 16;
    const size_t elems = size_t(L * KH * D);
    std::vector<uint16_t> kv(elems);
    for (auto& v : kv) v = f32_to_16(nonzero(), DType::F16);
    uint16_t* dk = to_device(kv);
    uint16_t* dv = to_device(kv);
    std::vector<float> q(size_t(H * D));
    for (auto& v : q) v = nonzero();
    float* dq = to_device(q);
    float* dout = nullptr;
    ck(cudaMalloc(&dout, size_t(H * D) * 4), "malloc");
    // Head-major cache [KH, L, D].
    const KvView kvv{dk, dv, DType::F16, KH, L, D, L * D, D};
    const int64_t pages = L / page, chosen = pages / 16;
    std::vector<int32_t> offsets(size_t(KH + 1)), items;
    for (int64_t h = 0; h < KH; ++h) {
      std::vector<int32_t> all(static_cast<size_t>(pages));
      for (int64_t p = 0; p < pages; ++p) all[size_t(p)] = int32_t(p);
      std::shuffle(all.begin(), all.end(), rng);
      all.resize(size_t(chosen));
      std::sort(all.begin(), all.end());
      items.insert(items.end(), all.begin(), all.end());
      offsets[size_t(h + 1)] = int32_t(items.size());
    }
    int32_t* doff = to_device(offsets);
    int32_t* ditems = to_device(items);
    const float scale = 1.0f / std::sqrt(float(D));
    const SelectionView all{SelectionKind::All, nullptr, nullptr, 0};
    const SelectionView quest{SelectionKind::Pages, doff, ditems, int32_t(page)};
    const double t_all = timer.median_ms([&] { attention_decode_device(dq, H, kvv, all, 0, scale, dout, nullptr); });
    const double t_q = timer.median_ms([&] { attention_decode_device(dq, H, kvv, quest, chosen, scale, dout, nullptr); });
    const double gb = 2.0 * double(elems) * 2 / 1e9;
    row(fmt("attention decode f16 H=32 KVH=8 D=128 L=%.0f: dense %.4f ms (%.0f GB/s", double(L), t_all, gb / (t_all / 1e3)) +
        fmt(" = %.0f%% of measured HBM)", 100.0 * gb / (t_all / 1e3) / *hbm_gbs) +
        fmt(", Quest 1/16 pages %.4f ms = %.2fx dense", t_q, t_all / t_q));
    // Quest as a decode step runs it, all on the device: page bounds kept up to date (built once
    // here; a step adds at most one page), then per step the page scores, the top-k and attention
    // over the chosen pages. Budget 1/16: the 511 best complete pages plus the current one.
    const int64_t current = pages - 1, keep = pages / 16 - 1;
    int8_t* dcodes = nullptr;
    float *dscales = nullptr, *dscores = nullptr;
    int32_t *qoff = nullptr, *qitems = nullptr;
    ck(cudaMalloc(&dcodes, size_t(KH * pages * 2 * D)), "malloc");
    ck(cudaMalloc(&dscales, size_t(KH * pages) * 4), "malloc");
    ck(cudaMalloc(&dscores, size_t(KH * current) * 4), "malloc");
    ck(cudaMalloc(&qoff, size_t(KH + 1) * 4), "malloc");
    ck(cudaMalloc(&qitems, size_t(KH * (keep + 1)) * 4), "malloc");
    const QuestBoundsView bv{dcodes, dscales, KH, pages, D};
    const double t_bounds = timer.median_ms([&] { quest_page_bounds_device(kvv, int32_t(page), 0, pages, bv, nullptr); }, 1, 5);
    const double t_sel = timer.median_ms([&] { quest_select_device(dq, H, bv, current, keep, dscores, qoff, qitems, nullptr); });
    const SelectionView chosen_sel{SelectionKind::Pages, qoff, qitems, int32_t(page)};
    const double t_step = timer.median_ms([&] {
      quest_select_device(dq, H, bv, current, keep, dscores, qoff, qitems, nullptr);
      attention_decode_device(dq, H, kvv, chosen_sel, keep + 1, scale, dout, nullptr);
    });
    row(fmt("Quest 1/16 on the device at L=%.0f: selection (scores + top-k) %.4f ms, selection + attention %.4f ms", double(L),
            t_sel, t_step) +
        fmt(" = %.2fx dense attention (target 6x); building all page bounds once %.3f ms", t_all / t_step, t_bounds));
    for (void* p : {(void*)dk, (void*)dv, (void*)dq, (void*)dout, (void*)doff, (void*)ditems, (void*)dcodes, (void*)dscales, (void*)dscores,
                    (void*)qoff, (void*)qitems})
      cudaFree(p);
  }
  // Prefill SpMM: M = 512 tokens through a 90%-sparse 8192 x 8192 f16 weight, CSR (the SpMM kernel
  // and, for comparison, the decode kernel in 16-token passes) and BSR 16x16, vs dense GEMM.
  {
    const int64_t M = 512, N = quick ? 4096 : 8192, K = N;
    const DType dt = DType::F16;
    std::vector<float> x(size_t(M * K));
    for (auto& v : x) v = nonzero();
    float* dx = to_device(x);
    float* dy = nullptr;
    ck(cudaMalloc(&dy, size_t(M * N) * 4), "malloc");
    const int64_t ld = rowwise_ld(M);
    float* xt = nullptr;
    ck(cudaMalloc(&xt, size_t(K * ld) * 4), "malloc");
    launch_transpose(dx, M, K, xt, ld, nullptr);
    std::vector<uint32_t> rp(size_t(N + 1), 0);
    std::vector<uint16_t> ci, cv;
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k)
        if (rng() % 10 == 0) {
          ci.push_back(uint16_t(k));
          cv.push_back(f32_to_16(nonzero(), dt));
        }
      rp[size_t(n + 1)] = uint32_t(ci.size());
    }
    DeviceWeight csr = upload_csr(rp.data(), ci.data(), 2, cv.data(), dt, N, K);
    DeviceWeight bsr{};
    upload_random_bsr(N, K, 16, 16, 0.1, dt, 2, &bsr);
    const double t_spmm = timer.median_ms([&] { launch_spmm_csr(csr, xt, M, ld, dy, nullptr); }, 2, 10);
    const double t_rows = timer.median_ms([&] { launch_rowwise(csr, xt, M, dy, nullptr); }, 2, 10);
    const double t_bsr = timer.median_ms([&] { launch_spmm_bsr(bsr, dx, M, dy, nullptr); }, 2, 10);
    // Dense baselines on the same shape: our tensor-core kernel and cuBLAS.
    std::vector<uint16_t> wd(size_t(N * K));
    for (auto& v : wd) v = f32_to_16(nonzero(), dt);
    DeviceWeight dense = upload_dense(wd.data(), dt, N, K);
    const int64_t M_pad = tc_rows_padding(M);
    void* x16 = nullptr;
    ck(cudaMalloc(&x16, size_t(M_pad * dense.geo.tiles_k * 32) * 2), "malloc");
    launch_pack_activations(dx, M, K, x16, M_pad, dense.geo.tiles_k, dt, nullptr);
    const double t_dense = timer.median_ms([&] { launch_tc_dense(dense, x16, M, dy, nullptr); }, 2, 10);
    double t_cublas = NAN;
    void *wrow = nullptr, *xr16 = nullptr;
    if (have_cublas) {
      std::vector<uint16_t> xrow(x.size());
      for (size_t i = 0; i < x.size(); ++i) xrow[i] = f32_to_16(x[i], dt);
      xr16 = to_device(xrow);
      wrow = to_device(wd);
      if (cublas.run(wrow, xr16, dy, M, N, K, dt) == 0)
        t_cublas = timer.median_ms([&] { cublas.run(wrow, xr16, dy, M, N, K, dt); }, 2, 10);
    }
    const double best_dense = std::isnan(t_cublas) ? t_dense : std::min(t_dense, t_cublas);
    const double flops = 2.0 * double(M) * N * K;
    row(fmt("prefill M=512 N=K=%.0f f16, 90%% sparse: dense ours %.3f ms (%.0f TFLOP/s), cuBLAS %.3f ms", double(N), t_dense,
            flops / t_dense / 1e9, t_cublas) +
        fmt("; CSR SpMM %.3f ms = %.2fx best dense (decode kernel in 16-token passes %.3f ms)", t_spmm, best_dense / t_spmm,
            t_rows) +
        fmt("; BSR 16x16 %.3f ms = %.2fx best dense [ceiling by work 10x]", t_bsr, best_dense / t_bsr));
    free_weight(csr);
    free_weight(bsr);
    free_weight(dense);
    for (void* p : {(void*)dx, (void*)dy, (void*)xt, x16, wrow, xr16}) cudaFree(p);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool parity_only = false, quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--parity-only")) parity_only = true;
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
  }
  try {
    const DeviceInfo info = device_info();
    std::printf("device %d of %d: %s, sm_%d%d, %d SMs, %.1f GiB, driver %d, runtime %d\n", info.device, info.count,
                info.name.c_str(), info.major, info.minor, info.sm_count, double(info.total_memory) / (1 << 30),
                info.driver_version, info.runtime_version);
  } catch (const CudaError& e) {
    std::printf("no usable GPU: %s\n", e.what());
    return 3;
  }
  const std::string st = self_test();
  std::printf("self-test: %s\n", st.empty() ? "ok" : st.c_str());
  try {
    parity_matmul(quick);
    parity_attention(quick);
    parity_spmm(quick);
    parity_top_k(quick);
    parity_quest(quick);
    parity_decode_step();
  } catch (const CudaError& e) {
    std::printf("FAIL parity threw %s: %s\n", e.code.c_str(), e.what());
    ++failures;
  }
  std::printf("parity: %d passed, %d failed\n", passes, failures);
  if (!parity_only) {
    double hbm = 0;
    try {
      timings(quick, &hbm);
    } catch (const CudaError& e) {
      std::printf("timings threw %s: %s\n", e.code.c_str(), e.what());
    }
    std::printf("\n==== summary (medians of 25 runs after 5 warm-up, CUDA events) ====\n");
    std::printf("parity: %d passed, %d failed\n", passes, failures);
    for (const auto& r : table) std::printf("%s\n", r.c_str());
  }
  return failures ? 1 : 0;
}
