// Cross-entropy and distillation KL from logits on CPU, row by row in fixed chunks
// (contracts and formulas: tandem/compute/losses.hpp). Softmaxes subtract the row maximum and run
// in T's precision.
#include "tandem/compute/losses.hpp"

#include <stdexcept>
#include <string>

#include "fast_math.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

// log sum_j exp(z_j * inv_tau)
template <class T>
TANDEM_INLINE T logsumexp(const T* z, int64_t n, T inv_tau) {
  T m = z[0] * inv_tau;
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < n; ++j) m = z[j] * inv_tau > m ? z[j] * inv_tau : m;
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += detail::exp_fast(z[j] * inv_tau - m);
  return m + detail::log_fast(sum);
}

template <class T>
TANDEM_INLINE void ce_forward_impl(const T* logits, const int32_t* targets, T* losses, int64_t r0, int64_t r1,
                                   int64_t vocab) {
  for (int64_t i = r0; i < r1; ++i) {
    const T* z = logits + i * vocab;
    losses[i] = targets[i] < 0 ? T(0) : logsumexp(z, vocab, T(1)) - z[targets[i]];
  }
}
TANDEM_SIMD_CLONES void ce_forward_rows(const float* z, const int32_t* t, float* l, int64_t r0, int64_t r1,
                                        int64_t v) {
  ce_forward_impl(z, t, l, r0, r1, v);
}
TANDEM_SIMD_CLONES void ce_forward_rows(const double* z, const int32_t* t, double* l, int64_t r0, int64_t r1,
                                        int64_t v) {
  ce_forward_impl(z, t, l, r0, r1, v);
}

template <class T>
TANDEM_INLINE void ce_backward_impl(const T* logits, const int32_t* targets, const T* dlosses, T* dlogits,
                                    int64_t r0, int64_t r1, int64_t vocab) {
  for (int64_t i = r0; i < r1; ++i) {
    if (targets[i] < 0) continue;
    const T* z = logits + i * vocab;
    T* d = dlogits + i * vocab;
    const T lse = logsumexp(z, vocab, T(1));
    const T g = dlosses[i];
#pragma omp simd
    for (int64_t j = 0; j < vocab; ++j) d[j] += g * detail::exp_fast(z[j] - lse);
    d[targets[i]] -= g;
  }
}
TANDEM_SIMD_CLONES void ce_backward_rows(const float* z, const int32_t* t, const float* dl, float* d, int64_t r0,
                                         int64_t r1, int64_t v) {
  ce_backward_impl(z, t, dl, d, r0, r1, v);
}
TANDEM_SIMD_CLONES void ce_backward_rows(const double* z, const int32_t* t, const double* dl, double* d, int64_t r0,
                                         int64_t r1, int64_t v) {
  ce_backward_impl(z, t, dl, d, r0, r1, v);
}

template <class T>
TANDEM_INLINE void kl_forward_impl(const T* student, const T* teacher, T* losses, int64_t r0, int64_t r1,
                                   int64_t vocab, T inv_tau, T weight) {
  for (int64_t i = r0; i < r1; ++i) {
    const T* s = student + i * vocab;
    const T* t = teacher + i * vocab;
    const T lse_s = logsumexp(s, vocab, inv_tau), lse_t = logsumexp(t, vocab, inv_tau);
    T kl = 0;
#pragma omp simd reduction(+ : kl)
    for (int64_t j = 0; j < vocab; ++j) {
      const T log_pt = t[j] * inv_tau - lse_t;
      kl += detail::exp_fast(log_pt) * (log_pt - (s[j] * inv_tau - lse_s));
    }
    losses[i] = weight * kl;
  }
}
TANDEM_SIMD_CLONES void kl_forward_rows(const float* s, const float* t, float* l, int64_t r0, int64_t r1, int64_t v,
                                        float inv_tau, float w) {
  kl_forward_impl(s, t, l, r0, r1, v, inv_tau, w);
}
TANDEM_SIMD_CLONES void kl_forward_rows(const double* s, const double* t, double* l, int64_t r0, int64_t r1,
                                        int64_t v, double inv_tau, double w) {
  kl_forward_impl(s, t, l, r0, r1, v, inv_tau, w);
}

template <class T>
TANDEM_INLINE void kl_backward_impl(const T* student, const T* teacher, const T* dlosses, T* dstudent, int64_t r0,
                                    int64_t r1, int64_t vocab, T inv_tau, T weight) {
  for (int64_t i = r0; i < r1; ++i) {
    const T* s = student + i * vocab;
    const T* t = teacher + i * vocab;
    T* d = dstudent + i * vocab;
    const T lse_s = logsumexp(s, vocab, inv_tau), lse_t = logsumexp(t, vocab, inv_tau);
    const T g = dlosses[i] * weight;
#pragma omp simd
    for (int64_t j = 0; j < vocab; ++j)
      d[j] += g * (detail::exp_fast(s[j] * inv_tau - lse_s) - detail::exp_fast(t[j] * inv_tau - lse_t));
  }
}
TANDEM_SIMD_CLONES void kl_backward_rows(const float* s, const float* t, const float* dl, float* d, int64_t r0,
                                         int64_t r1, int64_t v, float inv_tau, float w) {
  kl_backward_impl(s, t, dl, d, r0, r1, v, inv_tau, w);
}
TANDEM_SIMD_CLONES void kl_backward_rows(const double* s, const double* t, const double* dl, double* d, int64_t r0,
                                         int64_t r1, int64_t v, double inv_tau, double w) {
  kl_backward_impl(s, t, dl, d, r0, r1, v, inv_tau, w);
}

void check_targets(const int32_t* targets, int64_t rows, int64_t vocab) {
  for (int64_t i = 0; i < rows; ++i)
    if (targets[i] >= vocab)
      throw std::invalid_argument("cross-entropy: target " + std::to_string(targets[i]) + " at row " +
                                  std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(vocab) +
                                  ")");
}

void check_distillation(const Distillation& d, int64_t vocab) {
  if (!(d.temperature > 0.0))
    throw std::invalid_argument("distillation: temperature must be > 0, got " + std::to_string(d.temperature));
  if (vocab <= 0) throw std::invalid_argument("distillation: vocabulary size must be > 0");
}

int64_t chunk_rows(int64_t vocab) { return detail::rows_per_chunk(vocab, 32768); }

}  // namespace

template <class T>
void cross_entropy_forward(const T* logits, const int32_t* targets, T* losses, int64_t rows, int64_t vocab) {
  if (vocab <= 0) throw std::invalid_argument("cross-entropy: vocabulary size must be > 0");
  check_targets(targets, rows, vocab);
  detail::for_each_chunk(rows, chunk_rows(vocab), [&](int64_t, int64_t r0, int64_t r1) {
    ce_forward_rows(logits, targets, losses, r0, r1, vocab);
  });
}

template <class T>
void cross_entropy_backward(const T* logits, const int32_t* targets, const T* dlosses, T* dlogits, int64_t rows,
                            int64_t vocab) {
  if (vocab <= 0) throw std::invalid_argument("cross-entropy: vocabulary size must be > 0");
  check_targets(targets, rows, vocab);
  detail::for_each_chunk(rows, chunk_rows(vocab), [&](int64_t, int64_t r0, int64_t r1) {
    ce_backward_rows(logits, targets, dlosses, dlogits, r0, r1, vocab);
  });
}

template <class T>
void kl_distill_forward(const T* student, const T* teacher, T* losses, int64_t rows, int64_t vocab,
                        Distillation d) {
  check_distillation(d, vocab);
  const T inv_tau = T(1.0 / d.temperature), weight = T(d.alpha * d.temperature * d.temperature);
  detail::for_each_chunk(rows, chunk_rows(vocab), [&](int64_t, int64_t r0, int64_t r1) {
    kl_forward_rows(student, teacher, losses, r0, r1, vocab, inv_tau, weight);
  });
}

template <class T>
void kl_distill_backward(const T* student, const T* teacher, const T* dlosses, T* dstudent, int64_t rows,
                         int64_t vocab, Distillation d) {
  check_distillation(d, vocab);
  const T inv_tau = T(1.0 / d.temperature), weight = T(d.alpha * d.temperature);
  detail::for_each_chunk(rows, chunk_rows(vocab), [&](int64_t, int64_t r0, int64_t r1) {
    kl_backward_rows(student, teacher, dlosses, dstudent, r0, r1, vocab, inv_tau, weight);
  });
}

#define TANDEM_INSTANTIATE(T)                                                                                 \
  template void cross_entropy_forward<T>(const T*, const int32_t*, T*, int64_t, int64_t);                    \
  template void cross_entropy_backward<T>(const T*, const int32_t*, const T*, T*, int64_t, int64_t);         \
  template void kl_distill_forward<T>(const T*, const T*, T*, int64_t, int64_t, Distillation);               \
  template void kl_distill_backward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, Distillation);
TANDEM_INSTANTIATE(float)
TANDEM_INSTANTIATE(double)
#undef TANDEM_INSTANTIATE

}  // namespace tandem::compute
