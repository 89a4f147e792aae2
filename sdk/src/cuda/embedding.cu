// The input embedding and its deterministic backward (the contract: tandem/cuda/embedding.hpp).
#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "check.cuh"
#include "tandem/cuda/embedding.hpp"

namespace tandem::cuda {
namespace {

// One thread per element of out; DO is out's device type (fp32 for a bf16 model's residual stream).
template <class D, class DO>
__global__ void embedding_forward_kernel(const int32_t* __restrict__ tokens, const D* __restrict__ wte,
                                         const D* __restrict__ wpe, DO* __restrict__ out, int64_t BT, int T, int C,
                                         int64_t vocab) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < BT * C; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / C;
    const int c = int(i % C);
    const int t = int(row % T);
    const int32_t token = tokens[row];
    const float v = token >= 0 && token < vocab
                        ? detail::to_f32(wte[int64_t(token) * C + c]) + detail::to_f32(wpe[int64_t(t) * C + c])
                        : __int_as_float(0x7fc00000);
    out[i] = detail::from_f32<DO>(v);
  }
}

// Block = one distinct token, threads over channels: the token's positions in increasing order.
template <class D>
__global__ void embedding_wte_backward_kernel(const int32_t* __restrict__ bucket_tokens,
                                              const int32_t* __restrict__ starts,
                                              const int32_t* __restrict__ positions, const D* __restrict__ dout,
                                              float* __restrict__ dwte, int C) {
  const int64_t bucket = blockIdx.x;
  const int32_t first = starts[bucket], last = starts[bucket + 1];
  float* row = dwte + int64_t(bucket_tokens[bucket]) * C;
  for (int c = blockIdx.y * blockDim.x + threadIdx.x; c < C; c += gridDim.y * blockDim.x) {
    float sum = 0;
    for (int32_t i = first; i < last; ++i) sum += detail::to_f32(dout[int64_t(positions[i]) * C + c]);
    row[c] += sum;
  }
}

// One thread per (t, c): the batch's rows at position t in order b = 0..B-1.
template <class D>
__global__ void embedding_wpe_backward_kernel(const D* __restrict__ dout, float* __restrict__ dwpe, int B, int T,
                                              int C) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < int64_t(T) * C;
       i += int64_t(gridDim.x) * blockDim.x) {
    float sum = 0;
    for (int b = 0; b < B; ++b) sum += detail::to_f32(dout[int64_t(b) * T * C + i]);
    dwpe[i] += sum;
  }
}

void check_sizes(int64_t B, int64_t T_, int64_t C, const char* what) {
  if (B <= 0 || T_ <= 0 || C <= 0 || C > (int64_t(1) << 20) || B * T_ > std::numeric_limits<int32_t>::max())
    throw Error(std::string(what) + ": bad sizes B=" + std::to_string(B) + " T=" + std::to_string(T_) +
                " C=" + std::to_string(C));
}

}  // namespace

template <class T, class Out>
void embedding_forward(const int32_t* tokens, const T* wte, const T* wpe, Out* out, int64_t B, int64_t T_, int64_t C,
                       int64_t vocab, cudaStream_t stream) {
  check_sizes(B, T_, C, "embedding_forward");
  embedding_forward_kernel<<<detail::blocks_for(B * T_ * C, 256), 256, 0, stream>>>(
      tokens, detail::dev(wte), detail::dev(wpe), detail::dev(out), B * T_, int(T_), int(C), vocab);
  detail::check_launch("embedding_forward", B * T_, C);
}

void TokenBuckets::build(const int32_t* host_tokens, int64_t count, int64_t vocab, cudaStream_t stream) {
  if (count <= 0 || count > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("embedding: " + std::to_string(count) + " tokens: need 1 .. 2^31-1");
  for (int64_t i = 0; i < count; ++i)
    if (host_tokens[i] < 0 || host_tokens[i] >= vocab)
      throw std::invalid_argument("embedding: token " + std::to_string(host_tokens[i]) + " at position " +
                                  std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  // Positions sorted by token, stably: within a bucket they stay in increasing order.
  std::vector<int32_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return host_tokens[a] < host_tokens[b]; });
  std::vector<int32_t> tokens, starts;
  for (int64_t i = 0; i < count; ++i) {
    const int32_t token = host_tokens[order[static_cast<size_t>(i)]];
    if (tokens.empty() || tokens.back() != token) {
      tokens.push_back(token);
      starts.push_back(static_cast<int32_t>(i));
    }
  }
  starts.push_back(static_cast<int32_t>(count));
  buckets_ = static_cast<int64_t>(tokens.size());
  host_.clear();
  host_.insert(host_.end(), tokens.begin(), tokens.end());
  host_.insert(host_.end(), starts.begin(), starts.end());
  host_.insert(host_.end(), order.begin(), order.end());
  if (device_.size() < host_.size()) device_ = DeviceArray<int32_t>(host_.size());
  // From pageable memory the copy is staged before it returns, so host_ may change afterwards.
  copy_async(device_.get(), host_.data(), host_.size() * sizeof(int32_t), stream);
}

template <class T>
void embedding_backward(const TokenBuckets& buckets, const T* dout, float* dwte, float* dwpe, int64_t B, int64_t T_,
                        int64_t C, cudaStream_t stream) {
  check_sizes(B, T_, C, "embedding_backward");
  if (buckets.bucket_count() <= 0 || buckets.bucket_count() > (int64_t(1) << 31) - 1)
    throw Error("embedding_backward: the token buckets are empty (TokenBuckets::build first)");
  const unsigned channel_blocks = static_cast<unsigned>(std::min<int64_t>((C + 255) / 256, 65535));
  embedding_wte_backward_kernel<<<dim3(static_cast<unsigned>(buckets.bucket_count()), channel_blocks), 256, 0,
                                  stream>>>(buckets.tokens(), buckets.starts(), buckets.positions(), detail::dev(dout),
                                            dwte, int(C));
  detail::check_launch("embedding_backward dwte", buckets.bucket_count(), C);
  embedding_wpe_backward_kernel<<<detail::blocks_for(T_ * C, 256), 256, 0, stream>>>(detail::dev(dout), dwpe, int(B),
                                                                                     int(T_), int(C));
  detail::check_launch("embedding_backward dwpe", T_, C);
}

template void embedding_forward<float, float>(const int32_t*, const float*, const float*, float*, int64_t, int64_t,
                                              int64_t, int64_t, cudaStream_t);
template void embedding_forward<bf16, bf16>(const int32_t*, const bf16*, const bf16*, bf16*, int64_t, int64_t,
                                            int64_t, int64_t, cudaStream_t);
template void embedding_forward<bf16, float>(const int32_t*, const bf16*, const bf16*, float*, int64_t, int64_t,
                                             int64_t, int64_t, cudaStream_t);
template void embedding_backward<float>(const TokenBuckets&, const float*, float*, float*, int64_t, int64_t, int64_t,
                                        cudaStream_t);
template void embedding_backward<bf16>(const TokenBuckets&, const bf16*, float*, float*, int64_t, int64_t, int64_t,
                                       cudaStream_t);

}  // namespace tandem::cuda
