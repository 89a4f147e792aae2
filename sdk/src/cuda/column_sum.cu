// Column sums into fp32, deterministic (the contract: tandem/cuda/column_sum.hpp). Stage 1: each
// block sums kChunkRows rows of 32 columns (8 row-lanes per column, then the lanes in order);
// stage 2: one thread per column adds the chunks in chunk order.
#include "check.cuh"
#include "tandem/cuda/column_sum.hpp"

namespace tandem::cuda {
namespace {

constexpr int kChunkRows = 256;

template <class D>
__global__ void column_sum_partial_kernel(const D* __restrict__ dy, float* __restrict__ partial, int64_t rows,
                                          int cols) {
  const int col = blockIdx.x * 32 + threadIdx.x;
  const int64_t first = int64_t(blockIdx.y) * kChunkRows;
  const int64_t last = min(first + kChunkRows, rows);
  float sum = 0;
  if (col < cols)
    for (int64_t r = first + threadIdx.y; r < last; r += blockDim.y) sum += detail::to_f32(dy[r * cols + col]);
  __shared__ float lanes[8][33];
  lanes[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float s = 0;
    for (int i = 0; i < 8; ++i) s += lanes[i][threadIdx.x];
    partial[int64_t(blockIdx.y) * cols + col] = s;
  }
}

__global__ void column_sum_reduce_kernel(const float* __restrict__ partial, float* __restrict__ out, int chunks,
                                         int cols) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  float s = 0;
  for (int i = 0; i < chunks; ++i) s += partial[int64_t(i) * cols + col];
  out[col] += s;
}

}  // namespace

template <class T>
void column_sum_accumulate(const T* dy, float* dbias, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows < 0 || cols <= 0 || cols > (int64_t(1) << 30))
    throw Error("column_sum_accumulate: bad shape [" + std::to_string(rows) + " x " + std::to_string(cols) + "]");
  if (rows == 0) return;
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  if (chunks > 65535) throw Error("column_sum_accumulate: too many rows (" + std::to_string(rows) + ")");
  float* partial = nullptr;
  const size_t bytes = size_t(chunks * cols) * sizeof(float);
  detail::check(cudaMallocAsync(reinterpret_cast<void**>(&partial), bytes, stream),
                "column_sum_accumulate scratch of " + std::to_string(bytes) + " bytes");
  const dim3 grid(static_cast<unsigned>((cols + 31) / 32), static_cast<unsigned>(chunks));
  column_sum_partial_kernel<<<grid, dim3(32, 8), 0, stream>>>(detail::dev(dy), partial, rows, int(cols));
  detail::check_launch("column_sum_accumulate partial sums", rows, cols);
  column_sum_reduce_kernel<<<detail::blocks_for(cols, 256), 256, 0, stream>>>(partial, dbias, int(chunks), int(cols));
  detail::check_launch("column_sum_accumulate", rows, cols);
  detail::check(cudaFreeAsync(partial, stream), "column_sum_accumulate scratch free");
}

template void column_sum_accumulate<float>(const float*, float*, int64_t, int64_t, cudaStream_t);
template void column_sum_accumulate<bf16>(const bf16*, float*, int64_t, int64_t, cudaStream_t);

}  // namespace tandem::cuda
