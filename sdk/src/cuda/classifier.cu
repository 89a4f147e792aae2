// Fused cross-entropy + distillation KL, forward and backward, one block per row.
//
// Pass 1 reads the row once and keeps online (running max, rescaled sum) pairs per thread:
//   z          -> logsumexp(z)                            (cross-entropy)
//   z / tau    -> logsumexp(z / tau)                      (student, distillation)
//   t / tau    -> logsumexp(t / tau) and W = sum_j exp(t_j/tau - max) (t_j - z_j) / tau
// so that KL(p_t || p_s) = W / S_t - lse_t + lse_s without a second pass. The pairs are merged
// across the block (max first, then each sum rescaled by exp(its max - the max)). Pass 2 reads the
// row again and writes the gradient of both terms at once.
//
// The rows move 16 bytes a thread at a time (chunk.cuh), and the exponentials are taken in base 2
// (exp2f is one hardware instruction; expf adds a range reduction): the pairs hold log2(e) * x, and
// a chunk's values rescale the running sum once, by the chunk's own max.
#include <cmath>

#include "check.cuh"
#include "chunk.cuh"
#include "tandem/cuda/classifier.hpp"

namespace tandem::cuda {
namespace {

using detail::kChunk;
using detail::RowChunks;

constexpr int kThreads = 512;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// A running log-sum-exp in base 2: max m, sum s of 2^(x - m), and a weighted sum w of 2^(x - m) d.
struct Lse2 {
  float m = -INFINITY, s = 0, w = 0;
  // The lanes of one chunk (x in base 2; lanes outside the row are -inf and add nothing). A NaN
  // lane is passed over by the max and makes s NaN, so the row's loss is NaN.
  template <int N>
  __device__ void add(const float (&x)[N], const float (&d)[N]) {
    float mx = m;
#pragma unroll
    for (int i = 0; i < N; ++i) mx = fmaxf(mx, x[i]);
    if (mx == -INFINITY) return;
    const float r = exp2f(m - mx);  // m = -inf: 0
    s *= r;
    w *= r;
    m = mx;
#pragma unroll
    for (int i = 0; i < N; ++i) {
      const float e = exp2f(x[i] - mx);
      s += e;
      w += e * d[i];
    }
  }
  __device__ void merge(const Lse2& o) {
    const float mm = fmaxf(m, o.m);
    if (mm == -INFINITY) return;
    const float a = exp2f(m - mm), b = exp2f(o.m - mm);
    s = s * a + o.s * b;
    w = w * a + o.w * b;
    m = mm;
  }
  __device__ float lse2() const { return m + log2f(s); }  // log2 of sum 2^x
};

__device__ Lse2 shfl(const Lse2& v, int o) {
  Lse2 r;
  r.m = __shfl_xor_sync(0xffffffffu, v.m, o);
  r.s = __shfl_xor_sync(0xffffffffu, v.s, o);
  r.w = __shfl_xor_sync(0xffffffffu, v.w, o);
  return r;
}

// Merges every thread's value; all threads get the result.
__device__ Lse2 block_merge(Lse2 v, Lse2* shared) {
  for (int o = 16; o > 0; o >>= 1) v.merge(shfl(v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // shared may still be read from the previous merge
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  Lse2 r = shared[0];
  for (int i = 1; i < kThreads / 32; ++i) r.merge(shared[i]);
  return r;
}

template <class D>
__global__ void __launch_bounds__(kThreads) classifier_kernel(const D* logits, D* dlogits, float* ce, float* kl,
                                                              int64_t vocab, const int32_t* __restrict__ targets,
                                                              const D* __restrict__ teacher, float inv_tau,
                                                              float alpha, float tau, float ce_scale,
                                                              float kl_scale) {
  constexpr int N = kChunk<D>;
  __shared__ Lse2 shared[kThreads / 32];
  const int64_t row = blockIdx.x;
  const D* z = logits + row * vocab;
  const D* t = teacher ? teacher + row * vocab : nullptr;
  const int32_t target = targets ? targets[row] : -1;
  const bool has_ce = target >= 0;
  const RowChunks<D> chunks(z, vocab);
  const bool t_vector = t && RowChunks<D>::same_alignment(z, t);
  const float tau2 = inv_tau * kLog2e;  // z / tau in base 2

  Lse2 plain, student, teach;
  const float none[N] = {};
  for (int64_t c = threadIdx.x; c < chunks.count; c += kThreads) {
    float zc[N], x[N];
    chunks.load(z, c, true, zc, -INFINITY);
    if (has_ce) {
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] = zc[i] * kLog2e;
      plain.add(x, none);
    }
    if (t) {
      float tc[N], d[N];
      chunks.load(t, c, t_vector, tc, -INFINITY);
#pragma unroll
      for (int i = 0; i < N; ++i) {
        x[i] = zc[i] * tau2;
        d[i] = chunks.valid(c, i) ? (tc[i] - zc[i]) * inv_tau : 0.0f;
      }
      student.add(x, none);
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] = tc[i] * tau2;
      teach.add(x, d);
    }
  }
  // The branches are uniform across the block: every thread merges the same terms.
  float lse_plain = 0, lse_s = 0, lse_t = 0;  // base 2
  if (has_ce) lse_plain = block_merge(plain, shared).lse2();
  if (t) {
    lse_s = block_merge(student, shared).lse2();
    const Lse2 tt = block_merge(teach, shared);
    lse_t = tt.lse2();
    if (threadIdx.x == 0 && kl) kl[row] = alpha * tau * tau * (tt.w / tt.s + (lse_s - lse_t) * kLn2);
  }
  const bool bad_target = has_ce && target >= vocab;
  if (threadIdx.x == 0 && ce)
    ce[row] = !has_ce ? 0.0f : bad_target ? NAN : lse_plain * kLn2 - detail::to_f32(z[target]);
  if (!dlogits) return;
  __syncthreads();  // z[target] is read above before any thread overwrites the row (dlogits may be logits)

  const float kl_weight = kl_scale * alpha * tau;
  D* out = dlogits + row * vocab;
  const bool out_vector = RowChunks<D>::same_alignment(z, out);
  for (int64_t c = threadIdx.x; c < chunks.count; c += kThreads) {
    float zc[N], tc[N], g[N];
    chunks.load(z, c, true, zc, 0.0f);
    if (t) chunks.load(t, c, t_vector, tc, 0.0f);
#pragma unroll
    for (int i = 0; i < N; ++i) {
      float gi = 0.0f;
      if (has_ce)
        gi = bad_target ? NAN
                        : ce_scale * (exp2f(zc[i] * kLog2e - lse_plain) - (chunks.first(c) + i == target ? 1.0f : 0.0f));
      if (t) gi += kl_weight * (exp2f(zc[i] * tau2 - lse_s) - exp2f(tc[i] * tau2 - lse_t));
      g[i] = gi;
    }
    chunks.store(out, c, out_vector, g);
  }
}

}  // namespace

template <class T>
void classifier_loss(const T* logits, T* dlogits, float* ce, float* kl, int64_t rows, int64_t vocab,
                     const ClassifierLoss& loss, cudaStream_t stream) {
  if (vocab <= 0 || rows < 0 || rows > int64_t(INT32_MAX))
    throw Error("classifier_loss: bad shape [" + std::to_string(rows) + " x " + std::to_string(vocab) + "]");
  if (loss.teacher && !(loss.temperature > 0.0f))
    throw Error("classifier_loss: temperature must be > 0, got " + std::to_string(loss.temperature));
  if (rows == 0) return;
  const auto* teacher = static_cast<const detail::device_t<T>*>(loss.teacher);
  classifier_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
      detail::dev(logits), detail::dev(dlogits), ce, kl, vocab, loss.targets, teacher, 1.0f / loss.temperature,
      loss.alpha, loss.temperature, loss.ce_scale, loss.kl_scale);
  detail::check_launch("classifier_loss", rows, vocab);
}

template void classifier_loss<float>(const float*, float*, float*, float*, int64_t, int64_t, const ClassifierLoss&,
                                     cudaStream_t);
template void classifier_loss<bf16>(const bf16*, bf16*, float*, float*, int64_t, int64_t, const ClassifierLoss&,
                                    cudaStream_t);

}  // namespace tandem::cuda
