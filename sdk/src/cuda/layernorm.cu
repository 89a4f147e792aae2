// LayerNorm forward and backward: one warp per row for the row-wise parts (GPT-2's rows are 768 to
// 1600 wide: a block per row would leave most of its threads idle in the reductions), and a
// deterministic two-stage column reduction for dweight and dbias.
#include "check.cuh"
#include "tandem/cuda/layernorm.hpp"

namespace tandem::cuda {
namespace {

using detail::from_f32;
using detail::to_f32;
using detail::warp_sum;

constexpr int kWarpsPerBlock = 8;

// DX: x's device type (the residual stream: fp32 also when the rest is bf16); D: weight, bias, out.
template <class DX, class D>
__global__ void layernorm_forward_kernel(const DX* __restrict__ x, const D* __restrict__ weight,
                                         const D* __restrict__ bias, D* __restrict__ out, float* __restrict__ mean,
                                         float* __restrict__ rstd, int64_t rows, int cols, float eps) {
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const DX* xr = x + row * cols;
  float s = 0;
  for (int c = lane; c < cols; c += 32) s += to_f32(xr[c]);
  const float m = warp_sum(s) / float(cols);
  float v = 0;
  for (int c = lane; c < cols; c += 32) {
    const float d = to_f32(xr[c]) - m;
    v += d * d;
  }
  const float r = rsqrtf(warp_sum(v) / float(cols) + eps);
  D* o = out + row * cols;
  for (int c = lane; c < cols; c += 32)
    o[c] = from_f32<D>((to_f32(xr[c]) - m) * r * to_f32(weight[c]) + to_f32(bias[c]));
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

// dx_c += rstd * (g_c - mean(g) - xhat_c * mean(g * xhat)), g = dout * weight.
template <class DX, class D>
__global__ void layernorm_dx_kernel(const D* __restrict__ dout, const DX* __restrict__ x, const D* __restrict__ weight,
                                    const float* __restrict__ mean, const float* __restrict__ rstd, D* __restrict__ dx,
                                    int64_t rows, int cols) {
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const DX* xr = x + row * cols;
  const D* dr = dout + row * cols;
  const float m = mean[row], r = rstd[row];
  float g_sum = 0, gx_sum = 0;
  for (int c = lane; c < cols; c += 32) {
    const float g = to_f32(dr[c]) * to_f32(weight[c]);
    g_sum += g;
    gx_sum += g * ((to_f32(xr[c]) - m) * r);
  }
  const float g_mean = warp_sum(g_sum) / float(cols), gx_mean = warp_sum(gx_sum) / float(cols);
  D* d = dx + row * cols;
  for (int c = lane; c < cols; c += 32) {
    const float xhat = (to_f32(xr[c]) - m) * r;
    const float g = to_f32(dr[c]) * to_f32(weight[c]);
    d[c] = from_f32<D>(to_f32(d[c]) + r * (g - g_mean - xhat * gx_mean));
  }
}

// Stage 1: block (32 columns, 8 row lanes) sums dout * xhat and dout over one chunk of rows, into
// partial[chunk][col] (dweight's) and partial[chunks + chunk][col] (dbias's).
constexpr int kChunkRows = 256;
template <class DX, class D>
__global__ void layernorm_dparams_partial_kernel(const D* __restrict__ dout, const DX* __restrict__ x,
                                                 const float* __restrict__ mean, const float* __restrict__ rstd,
                                                 float* __restrict__ partial, int64_t rows, int cols) {
  __shared__ float sw[8][33], sb[8][33];
  const int col = blockIdx.x * 32 + threadIdx.x;
  const int64_t r0 = int64_t(blockIdx.y) * kChunkRows;
  const int64_t r1 = min(r0 + kChunkRows, rows);
  float w = 0, b = 0;
  if (col < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const float d = to_f32(dout[r * cols + col]);
      w += d * ((to_f32(x[r * cols + col]) - mean[r]) * rstd[r]);
      b += d;
    }
  sw[threadIdx.y][threadIdx.x] = w;
  sb[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    for (int i = 1; i < 8; ++i) {
      w += sw[i][threadIdx.x];
      b += sb[i][threadIdx.x];
    }
    partial[int64_t(blockIdx.y) * cols + col] = w;
    partial[int64_t(gridDim.y + blockIdx.y) * cols + col] = b;
  }
}

// Stage 2: one thread per column adds the chunks' sums in chunk order.
__global__ void layernorm_dparams_reduce_kernel(const float* __restrict__ partial, float* __restrict__ dweight,
                                                float* __restrict__ dbias, int chunks, int cols) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  float w = 0, b = 0;
  for (int i = 0; i < chunks; ++i) {
    w += partial[int64_t(i) * cols + col];
    b += partial[int64_t(chunks + i) * cols + col];
  }
  dweight[col] += w;
  dbias[col] += b;
}

void check_shape(int64_t rows, int64_t cols, const char* what) {
  if (rows < 0 || cols <= 0 || cols > (int64_t(1) << 30) || rows > (int64_t(1) << 40))
    throw Error(std::string(what) + ": bad shape [" + std::to_string(rows) + " x " + std::to_string(cols) + "]");
}

}  // namespace

template <class X, class T>
void layernorm_forward(const X* x, const T* weight, const T* bias, T* out, float* mean, float* rstd, int64_t rows,
                       int64_t cols, cudaStream_t stream, float eps) {
  check_shape(rows, cols, "layernorm_forward");
  if (rows == 0) return;
  const unsigned blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  layernorm_forward_kernel<<<blocks, 32 * kWarpsPerBlock, 0, stream>>>(
      detail::dev(x), detail::dev(weight), detail::dev(bias), detail::dev(out), mean, rstd, rows, int(cols), eps);
  detail::check_launch("layernorm_forward", rows, cols);
}

template <class X, class T>
void layernorm_backward(const T* dout, const X* x, const T* weight, const float* mean, const float* rstd, T* dx,
                        float* dweight, float* dbias, int64_t rows, int64_t cols, cudaStream_t stream) {
  check_shape(rows, cols, "layernorm_backward");
  if (rows == 0) return;
  const unsigned blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  layernorm_dx_kernel<<<blocks, 32 * kWarpsPerBlock, 0, stream>>>(detail::dev(dout), detail::dev(x),
                                                                   detail::dev(weight), mean, rstd, detail::dev(dx),
                                                                   rows, int(cols));
  detail::check_launch("layernorm_backward dx", rows, cols);

  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  if (chunks > 65535) throw Error("layernorm_backward: too many rows (" + std::to_string(rows) + ")");
  float* partial = nullptr;
  const size_t bytes = size_t(2 * chunks * cols) * sizeof(float);
  detail::check(cudaMallocAsync(reinterpret_cast<void**>(&partial), bytes, stream),
                "layernorm_backward scratch of " + std::to_string(bytes) + " bytes");
  const dim3 grid(static_cast<unsigned>((cols + 31) / 32), static_cast<unsigned>(chunks));
  layernorm_dparams_partial_kernel<<<grid, dim3(32, 8), 0, stream>>>(detail::dev(dout), detail::dev(x), mean, rstd,
                                                                     partial, rows, int(cols));
  detail::check_launch("layernorm_backward dweight/dbias partial sums", rows, cols);
  layernorm_dparams_reduce_kernel<<<detail::blocks_for(cols, 256), 256, 0, stream>>>(partial, dweight, dbias,
                                                                                     int(chunks), int(cols));
  detail::check_launch("layernorm_backward dweight/dbias", rows, cols);
  detail::check(cudaFreeAsync(partial, stream), "layernorm_backward scratch free");
}

// X = T everywhere, and fp32 x with bf16 out: the bf16 model's fp32 residual stream.
template void layernorm_forward<float, float>(const float*, const float*, const float*, float*, float*, float*,
                                              int64_t, int64_t, cudaStream_t, float);
template void layernorm_forward<bf16, bf16>(const bf16*, const bf16*, const bf16*, bf16*, float*, float*, int64_t,
                                            int64_t, cudaStream_t, float);
template void layernorm_forward<float, bf16>(const float*, const bf16*, const bf16*, bf16*, float*, float*, int64_t,
                                             int64_t, cudaStream_t, float);
template void layernorm_backward<float, float>(const float*, const float*, const float*, const float*, const float*,
                                               float*, float*, float*, int64_t, int64_t, cudaStream_t);
template void layernorm_backward<bf16, bf16>(const bf16*, const bf16*, const bf16*, const float*, const float*, bf16*,
                                             float*, float*, int64_t, int64_t, cudaStream_t);
template void layernorm_backward<float, bf16>(const bf16*, const float*, const bf16*, const float*, const float*,
                                              bf16*, float*, float*, int64_t, int64_t, cudaStream_t);

}  // namespace tandem::cuda
