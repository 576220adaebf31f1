// Rotary position embeddings, in place on rows of [heads · head_dim] (lib/nn/rope.ts): row r is at
// position pos0 + r, and pair i of every head rotates by angle (pos0 + r) · theta^(-2i/head_dim).
// Layouts: Interleaved pairs (2i, 2i+1) (llama2.c, Meta); Half pairs (i, i + head_dim/2) (Hugging
// Face). The angle and its sine/cosine are computed in double, like the reference: at positions in
// the hundred thousands an f32 angle would be off by ~1e-2 radians. A thread per pair.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

__global__ void rope_kernel(float* __restrict__ x, int64_t rows, int64_t heads, int64_t head_dim, int64_t pos0,
                            double theta, bool interleaved) {
  const int64_t half = head_dim / 2, pairs = rows * heads * half;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < pairs; t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = t % half, h = (t / half) % heads, r = t / (half * heads);
    const double angle = double(pos0 + r) * pow(theta, double(-2 * i) / double(head_dim));
    double sn, cs;
    sincos(angle, &sn, &cs);
    float* base = x + (r * heads + h) * head_dim;
    float* a = interleaved ? base + 2 * i : base + i;
    float* b = interleaved ? a + 1 : a + half;
    const double x0 = *a, x1 = *b;
    *a = float(x0 * cs - x1 * sn);
    *b = float(x0 * sn + x1 * cs);
  }
}

}  // namespace

void rope_device(float* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t pos0, double theta,
                 RopeLayout layout, void* stream) {
  if (rows < 0 || heads < 0 || head_dim <= 0 || head_dim % 2 != 0)
    throw CudaError("ERR_SHAPE", "rope: head_dim must be even and positive");
  if (pos0 < 0) throw CudaError("ERR_ARG", "rope: positions must be >= 0");
  if (!(theta > 0.0)) throw CudaError("ERR_ARG", "rope: theta must be > 0");
  if (layout != RopeLayout::Interleaved && layout != RopeLayout::Half) throw CudaError("ERR_ARG", "rope: unknown layout");
  const int64_t pairs = rows * heads * (head_dim / 2);
  if (pairs == 0) return;
  const unsigned blocks = unsigned(std::min<int64_t>((pairs + 255) / 256, 65535));
  rope_kernel<<<blocks, 256, 0, as_stream(stream)>>>(x, rows, heads, head_dim, pos0, theta,
                                                     layout == RopeLayout::Interleaved);
  check_cuda(cudaGetLastError(), "rope launch");
}

}  // namespace sparsenn::cuda
