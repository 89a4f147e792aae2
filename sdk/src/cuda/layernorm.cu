// LayerNorm forward and backward: one warp per row for the row-wise parts (GPT-2's rows are 768 to
// 1600 wide: a block per row would leave most of its threads idle in the reductions), rows read 16
// bytes a lane (chunk.cuh), and a deterministic two-stage column reduction for dweight and dbias.
#include "check.cuh"
#include "chunk.cuh"
#include "tandem/cuda/layernorm.hpp"

namespace tandem::cuda {
namespace {

using detail::warp_sum;

constexpr int kWarpsPerBlock = 8;

template <class D>
__global__ void layernorm_forward_kernel(const D* __restrict__ x, const D* __restrict__ weight,
                                         const D* __restrict__ bias, D* __restrict__ out, float* __restrict__ mean,
                                         float* __restrict__ rstd, int64_t rows, int cols, float eps) {
  constexpr int N = detail::kChunk<D>;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const D* xr = x + row * cols;
  D* o = out + row * cols;
  const detail::RowChunks<D> chunks(xr, cols);
  const bool o_vec = chunks.same_alignment(xr, o), w_vec = chunks.same_alignment(xr, weight),
             b_vec = chunks.same_alignment(xr, bias);
  float s = 0;
  for (int64_t c = lane; c < chunks.count; c += 32) {
    float xc[N];
    chunks.load(xr, c, true, xc, 0.0f);
#pragma unroll
    for (int i = 0; i < N; ++i) s += xc[i];
  }
  const float m = warp_sum(s) / float(cols);
  float v = 0;
  for (int64_t c = lane; c < chunks.count; c += 32) {
    float xc[N];
    chunks.load(xr, c, true, xc, m);  // lanes outside the row: deviation 0
#pragma unroll
    for (int i = 0; i < N; ++i) v += (xc[i] - m) * (xc[i] - m);
  }
  const float r = rsqrtf(warp_sum(v) / float(cols) + eps);
  for (int64_t c = lane; c < chunks.count; c += 32) {
    float xc[N], wc[N], bc[N], y[N];
    chunks.load(xr, c, true, xc, 0.0f);
    chunks.load(weight, c, w_vec, wc, 0.0f);  // column j of the row is weight[j]
    chunks.load(bias, c, b_vec, bc, 0.0f);
#pragma unroll
    for (int i = 0; i < N; ++i) y[i] = (xc[i] - m) * r * wc[i] + bc[i];
    chunks.store(o, c, o_vec, y);
  }
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

// Backward, one kernel for dx and the parameters' partial sums. A block of kBackWarps warps owns
// kBackRows consecutive rows, each warp every kBackWarps-th of them. A warp reads its row twice, 16
// bytes a lane (chunk.cuh; the second read hits L1): first for the row sums, then to add
//   dx_c += rstd * (g_c - mean(g) - xhat_c * mean(g * xhat)),  g = dout * weight,
// and to add dout * xhat and dout into its own fp32 column sums in shared memory (a lane owns
// columns, so nothing is shared between threads until the block adds its warps' sums in warp order
// into partial[block][col] (dweight's) and partial[blocks + block][col] (dbias's)). Every sum has a
// fixed order, so the results are deterministic.
constexpr int kBackWarps = 4;
constexpr int kBackRows = 32;

template <class D>
__global__ void __launch_bounds__(32 * kBackWarps)
    layernorm_backward_kernel(const D* __restrict__ dout, const D* __restrict__ x, const D* __restrict__ weight,
                              const float* __restrict__ mean, const float* __restrict__ rstd, D* __restrict__ dx,
                              float* __restrict__ partial, int64_t rows, int cols) {
  constexpr int N = detail::kChunk<D>;
  extern __shared__ float sums[];  // [kBackWarps][2][cols]: dweight's, then dbias's
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* w_sum = sums + int64_t(warp) * 2 * cols;
  float* b_sum = w_sum + cols;
  for (int c = lane; c < 2 * cols; c += 32) w_sum[c] = 0.0f;
  __syncwarp();  // a lane's chunks are other lanes' columns here

  const int64_t r0 = int64_t(blockIdx.x) * kBackRows;
  const int64_t r1 = min(r0 + kBackRows, rows);
  for (int64_t row = r0 + warp; row < r1; row += kBackWarps) {
    const D* xr = x + row * cols;
    const D* dr = dout + row * cols;
    D* d = dx + row * cols;
    const detail::RowChunks<D> chunks(xr, cols);
    const bool dr_vec = chunks.same_alignment(xr, dr), d_vec = chunks.same_alignment(xr, d);
    const bool w_vec = chunks.same_alignment(xr, weight);
    const float m = mean[row], r = rstd[row];
    float g_sum = 0, gx_sum = 0;
    for (int64_t c = lane; c < chunks.count; c += 32) {
      float xc[N], dc[N], wc[N];
      chunks.load(xr, c, true, xc, 0.0f);
      chunks.load(dr, c, dr_vec, dc, 0.0f);  // lanes outside the row are 0: they add nothing
      chunks.load(weight, c, w_vec, wc, 0.0f);  // column j of the row is weight[j]
#pragma unroll
      for (int i = 0; i < N; ++i) {
        const float g = dc[i] * wc[i];
        g_sum += g;
        gx_sum += g * ((xc[i] - m) * r);
      }
    }
    const float g_mean = warp_sum(g_sum) / float(cols), gx_mean = warp_sum(gx_sum) / float(cols);
    for (int64_t c = lane; c < chunks.count; c += 32) {
      float xc[N], dc[N], wc[N], out[N];
      chunks.load(xr, c, true, xc, 0.0f);
      chunks.load(dr, c, dr_vec, dc, 0.0f);
      chunks.load(weight, c, w_vec, wc, 0.0f);  // column j of the row is weight[j]
      chunks.load(d, c, d_vec, out, 0.0f);
      const int64_t j0 = chunks.first(c);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        const float xhat = (xc[i] - m) * r;
        out[i] += r * (dc[i] * wc[i] - g_mean - xhat * gx_mean);
        if (chunks.valid(c, i)) {
          w_sum[j0 + i] += dc[i] * xhat;
          b_sum[j0 + i] += dc[i];
        }
      }
      chunks.store(d, c, d_vec, out);
    }
    __syncwarp();  // where rows are aligned differently, the next row's chunks cut other columns
  }
  __syncthreads();
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float w = 0, b = 0;
    for (int k = 0; k < kBackWarps; ++k) {
      w += sums[int64_t(k) * 2 * cols + c];
      b += sums[int64_t(k) * 2 * cols + cols + c];
    }
    partial[int64_t(blockIdx.x) * cols + c] = w;
    partial[int64_t(gridDim.x + blockIdx.x) * cols + c] = b;
  }
}

// One thread per column adds the blocks' sums in block order.
__global__ void layernorm_dparams_reduce_kernel(const float* __restrict__ partial, float* __restrict__ dweight,
                                                float* __restrict__ dbias, int blocks, int cols) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  float w = 0, b = 0;
  for (int i = 0; i < blocks; ++i) {
    w += partial[int64_t(i) * cols + col];
    b += partial[int64_t(blocks + i) * cols + col];
  }
  dweight[col] += w;
  dbias[col] += b;
}

void check_shape(int64_t rows, int64_t cols, const char* what) {
  if (rows < 0 || cols <= 0 || cols > (int64_t(1) << 30) || rows > (int64_t(1) << 40))
    throw Error(std::string(what) + ": bad shape [" + std::to_string(rows) + " x " + std::to_string(cols) + "]");
}

}  // namespace

template <class T>
void layernorm_forward(const T* x, const T* weight, const T* bias, T* out, float* mean, float* rstd, int64_t rows,
                       int64_t cols, cudaStream_t stream, float eps) {
  check_shape(rows, cols, "layernorm_forward");
  if (rows == 0) return;
  const unsigned blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  layernorm_forward_kernel<<<blocks, 32 * kWarpsPerBlock, 0, stream>>>(
      detail::dev(x), detail::dev(weight), detail::dev(bias), detail::dev(out), mean, rstd, rows, int(cols), eps);
  detail::check_launch("layernorm_forward", rows, cols);
}

template <class T>
void layernorm_backward(const T* dout, const T* x, const T* weight, const float* mean, const float* rstd, T* dx,
                        float* dweight, float* dbias, int64_t rows, int64_t cols, cudaStream_t stream) {
  check_shape(rows, cols, "layernorm_backward");
  if (rows == 0) return;
  using D = detail::device_t<T>;
  const size_t shared_bytes = size_t(kBackWarps) * 2 * size_t(cols) * sizeof(float);
  int max_shared = 0, device = 0;
  detail::check(cudaGetDevice(&device), "layernorm_backward: cudaGetDevice");
  detail::check(cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
                "layernorm_backward: shared memory per block");
  if (shared_bytes > size_t(max_shared))
    throw Error("layernorm_backward: " + std::to_string(cols) + " columns need " + std::to_string(shared_bytes) +
                " bytes of shared memory per block; this GPU has " + std::to_string(max_shared));
  detail::check(cudaFuncSetAttribute(layernorm_backward_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     int(shared_bytes)),
                "layernorm_backward: shared memory of " + std::to_string(shared_bytes) + " bytes");

  const int64_t blocks = (rows + kBackRows - 1) / kBackRows;
  if (blocks > int64_t(INT32_MAX)) throw Error("layernorm_backward: too many rows (" + std::to_string(rows) + ")");
  float* partial = nullptr;
  const size_t bytes = size_t(2 * blocks * cols) * sizeof(float);
  detail::check(cudaMallocAsync(reinterpret_cast<void**>(&partial), bytes, stream),
                "layernorm_backward scratch of " + std::to_string(bytes) + " bytes");
  layernorm_backward_kernel<D><<<unsigned(blocks), 32 * kBackWarps, shared_bytes, stream>>>(
      detail::dev(dout), detail::dev(x), detail::dev(weight), mean, rstd, detail::dev(dx), partial, rows, int(cols));
  detail::check_launch("layernorm_backward", rows, cols);
  layernorm_dparams_reduce_kernel<<<detail::blocks_for(cols, 256), 256, 0, stream>>>(partial, dweight, dbias,
                                                                                     int(blocks), int(cols));
  detail::check_launch("layernorm_backward dweight/dbias", rows, cols);
  detail::check(cudaFreeAsync(partial, stream), "layernorm_backward scratch free");
}

template void layernorm_forward<float>(const float*, const float*, const float*, float*, float*, float*, int64_t,
                                       int64_t, cudaStream_t, float);
template void layernorm_forward<bf16>(const bf16*, const bf16*, const bf16*, bf16*, float*, float*, int64_t, int64_t,
                                      cudaStream_t, float);
template void layernorm_backward<float>(const float*, const float*, const float*, const float*, const float*, float*,
                                        float*, float*, int64_t, int64_t, cudaStream_t);
template void layernorm_backward<bf16>(const bf16*, const bf16*, const bf16*, const float*, const float*, bf16*,
                                       float*, float*, int64_t, int64_t, cudaStream_t);

}  // namespace tandem::cuda
