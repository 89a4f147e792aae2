// GPT-2's input embedding on the device: x[b, t] = wte[tokens[b, t]] + wpe[t], and its backward,
// the contract of tandem/compute/embedding.hpp with T = float or bf16 (fp32 arithmetic, fp32
// gradients, which feed fp32 master weights).
//
// The backward must add many positions into one row of dwte (a token that occurs often) without
// atomics, so that it is deterministic: TokenBuckets groups the positions by token once per batch
// (on the host, where the tokens come from) and one block per distinct token adds that token's
// positions in position order.
#pragma once

#include <cstdint>
#include <vector>

#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

// tokens: device [B, T]; out: [B, T, C]. A token outside [0, vocab) writes NaN into its row
// (nothing on the device can throw; TokenBuckets::build checks them on the host first). Out is T,
// or float with T = bf16: the sum kept in fp32 as a bf16 model's residual stream starts.
template <class T, class Out>
void embedding_forward(const int32_t* tokens, const T* wte, const T* wpe, Out* out, int64_t B, int64_t T_, int64_t C,
                       int64_t vocab, cudaStream_t stream);

// The positions of a batch grouped by token: for each distinct token (ascending), its positions
// b*T + t in increasing order. Built on the host from the host copy of the tokens.
class TokenBuckets {
 public:
  // Throws std::invalid_argument naming the first token outside [0, vocab) and its position.
  void build(const int32_t* host_tokens, int64_t count, int64_t vocab, cudaStream_t stream);
  int64_t bucket_count() const { return buckets_; }
  const int32_t* tokens() const { return device_.get(); }                  // [bucket_count]
  const int32_t* starts() const { return device_.get() + buckets_; }       // [bucket_count + 1]
  const int32_t* positions() const { return device_.get() + 2 * buckets_ + 1; }  // [count]

 private:
  std::vector<int32_t> host_;     // tokens, starts, positions, uploaded in one copy
  DeviceArray<int32_t> device_;
  int64_t buckets_ = 0;
};

// dwte += the rows of dout gathered by token, dwpe[t] += sum over b of dout[b, t]; dout [B, T, C].
template <class T>
void embedding_backward(const TokenBuckets& buckets, const T* dout, float* dwte, float* dwpe, int64_t B, int64_t T_,
                        int64_t C, cudaStream_t stream);

}  // namespace tandem::cuda
