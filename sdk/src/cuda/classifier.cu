// Fused cross-entropy + distillation KL, forward and backward, one block per row.
//
// Pass 1 reads the row once and keeps online (running max, rescaled sum) pairs per thread:
//   z          -> logsumexp(z)                            (cross-entropy)
//   z / tau    -> logsumexp(z / tau)                      (student, distillation)
//   t / tau    -> logsumexp(t / tau) and W = sum_j exp(t_j/tau - max) (t_j - z_j) / tau
// so that KL(p_t || p_s) = W / S_t - lse_t + lse_s without a second pass. The pairs are merged
// across the block (max first, then each sum rescaled by exp(its max - the max)). Pass 2 reads the
// row again and writes the gradient of both terms at once.
#include <cmath>

#include "check.cuh"
#include "tandem/cuda/classifier.hpp"

namespace tandem::cuda {
namespace {

using detail::from_f32;
using detail::to_f32;

constexpr int kThreads = 512;

// A running log-sum-exp: max m, sum s of exp(x - m), and a weighted sum w of exp(x - m) * d.
struct Lse {
  float m = -INFINITY, s = 0, w = 0;
  __device__ void add(float x, float d) {
    if (x > m) {
      const float r = m == -INFINITY ? 0.0f : expf(m - x);
      s *= r;
      w *= r;
      m = x;
    }
    const float e = expf(x - m);
    s += e;
    w += e * d;
  }
  __device__ void merge(const Lse& o) {
    const float mm = fmaxf(m, o.m);
    if (mm == -INFINITY) return;
    const float a = m == -INFINITY ? 0.0f : expf(m - mm), b = o.m == -INFINITY ? 0.0f : expf(o.m - mm);
    s = s * a + o.s * b;
    w = w * a + o.w * b;
    m = mm;
  }
  __device__ float lse() const { return m + logf(s); }
};

__device__ Lse shfl(const Lse& v, int o) {
  Lse r;
  r.m = __shfl_xor_sync(0xffffffffu, v.m, o);
  r.s = __shfl_xor_sync(0xffffffffu, v.s, o);
  r.w = __shfl_xor_sync(0xffffffffu, v.w, o);
  return r;
}

// Merges every thread's value; all threads get the result.
__device__ Lse block_merge(Lse v, Lse* shared) {
  for (int o = 16; o > 0; o >>= 1) v.merge(shfl(v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // shared may still be read from the previous merge
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  Lse r = shared[0];
  for (int i = 1; i < kThreads / 32; ++i) r.merge(shared[i]);
  return r;
}

template <class D>
__global__ void __launch_bounds__(kThreads) classifier_kernel(const D* logits, D* dlogits, float* ce, float* kl,
                                                              int64_t vocab, const int32_t* __restrict__ targets,
                                                              const D* __restrict__ teacher, float inv_tau,
                                                              float alpha, float tau, float ce_scale,
                                                              float kl_scale) {
  __shared__ Lse shared[kThreads / 32];
  const int64_t row = blockIdx.x;
  const D* z = logits + row * vocab;
  const D* t = teacher ? teacher + row * vocab : nullptr;
  const int32_t target = targets ? targets[row] : -1;
  const bool has_ce = target >= 0;

  Lse plain, student, teach;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const float zj = to_f32(z[j]);
    if (has_ce) plain.add(zj, 0.0f);
    if (t) {
      const float tj = to_f32(t[j]);
      student.add(zj * inv_tau, 0.0f);
      teach.add(tj * inv_tau, (tj - zj) * inv_tau);
    }
  }
  // The branches are uniform across the block: every thread merges the same terms.
  float lse_plain = 0, lse_s = 0, lse_t = 0;
  if (has_ce) lse_plain = block_merge(plain, shared).lse();
  if (t) {
    lse_s = block_merge(student, shared).lse();
    const Lse tt = block_merge(teach, shared);
    lse_t = tt.lse();
    if (threadIdx.x == 0 && kl) kl[row] = alpha * tau * tau * (tt.w / tt.s - lse_t + lse_s);
  }
  const bool bad_target = has_ce && target >= vocab;
  if (threadIdx.x == 0 && ce) ce[row] = !has_ce ? 0.0f : bad_target ? NAN : lse_plain - to_f32(z[target]);
  if (!dlogits) return;
  __syncthreads();  // z[target] is read above before any thread overwrites the row (dlogits may be logits)

  const float kl_weight = kl_scale * alpha * tau;
  D* d = dlogits + row * vocab;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const float zj = to_f32(z[j]);
    float g = 0.0f;
    if (has_ce) g = bad_target ? NAN : ce_scale * (expf(zj - lse_plain) - (j == target ? 1.0f : 0.0f));
    if (t) g += kl_weight * (expf(zj * inv_tau - lse_s) - expf(to_f32(t[j]) * inv_tau - lse_t));
    d[j] = from_f32<D>(g);
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
