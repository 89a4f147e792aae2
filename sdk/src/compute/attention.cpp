// Causal multi-head attention on CPU (contracts and memory note: tandem/compute/attention.hpp).
//
// One task per (batch, head). Each does its products with single-threaded BLAS on strided views
// into qkv (leading dimension 3C) and y/dy (leading dimension C), so no head is ever copied out,
// and the T x T score block lives in per-thread scratch. The full T x T products are computed and
// the upper triangle is masked: for the sequence lengths of CPU training (<= 1024) the wasted
// half costs less than splitting the products into triangles.
#include "tandem/compute/attention.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <oneapi/tbb/enumerable_thread_specific.h>

#include "blas.hpp"
#include "fast_math.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace tandem::compute {
namespace {

// Row t of s (scaled scores) becomes softmax over columns 0..t, zeros after; lse[t] = log-sum-exp.
template <class T>
TANDEM_INLINE void causal_softmax_impl(T* s, T* lse, int64_t n) {
  for (int64_t t = 0; t < n; ++t) {
    T* row = s + t * n;
    const int64_t len = t + 1;
    T m = row[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < len; ++j) m = row[j] > m ? row[j] : m;
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < len; ++j) {
      row[j] = detail::exp_fast(row[j] - m);
      sum += row[j];
    }
    const T inv = T(1) / sum;
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) row[j] *= inv;
    for (int64_t j = len; j < n; ++j) row[j] = T(0);
    lse[t] = m + detail::log_fast(sum);
  }
}
TANDEM_SIMD_CLONES void causal_softmax(float* s, float* lse, int64_t n) { causal_softmax_impl(s, lse, n); }
TANDEM_SIMD_CLONES void causal_softmax(double* s, double* lse, int64_t n) { causal_softmax_impl(s, lse, n); }

// Probabilities again from the scores and the saved lse: p = exp(s - lse) on and below the diagonal.
template <class T>
TANDEM_INLINE void causal_probs_impl(T* s, const T* lse, int64_t n) {
  for (int64_t t = 0; t < n; ++t) {
    T* row = s + t * n;
    const T l = lse[t];
#pragma omp simd
    for (int64_t j = 0; j <= t; ++j) row[j] = detail::exp_fast(row[j] - l);
    for (int64_t j = t + 1; j < n; ++j) row[j] = T(0);
  }
}
TANDEM_SIMD_CLONES void causal_probs(float* s, const float* lse, int64_t n) { causal_probs_impl(s, lse, n); }
TANDEM_SIMD_CLONES void causal_probs(double* s, const double* lse, int64_t n) { causal_probs_impl(s, lse, n); }

// dp := scale * p (dp - sum_j p dp), row by row (the softmax backward; zero above the diagonal
// because p is).
template <class T>
TANDEM_INLINE void softmax_backward_impl(const T* p, T* dp, int64_t n, T scale) {
  for (int64_t t = 0; t < n; ++t) {
    const T* pr = p + t * n;
    T* dr = dp + t * n;
    T dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j <= t; ++j) dot += pr[j] * dr[j];
#pragma omp simd
    for (int64_t j = 0; j <= t; ++j) dr[j] = scale * pr[j] * (dr[j] - dot);
    for (int64_t j = t + 1; j < n; ++j) dr[j] = T(0);
  }
}
TANDEM_SIMD_CLONES void softmax_backward(const float* p, float* dp, int64_t n, float scale) {
  softmax_backward_impl(p, dp, n, scale);
}
TANDEM_SIMD_CLONES void softmax_backward(const double* p, double* dp, int64_t n, double scale) {
  softmax_backward_impl(p, dp, n, scale);
}

void check_shape(int64_t B, int64_t T_, int64_t C, int64_t n_head) {
  if (B < 0 || T_ < 0 || C <= 0 || n_head <= 0 || C % n_head != 0)
    throw std::invalid_argument("attention: need C > 0 divisible by n_head > 0; got B=" + std::to_string(B) +
                                " T=" + std::to_string(T_) + " C=" + std::to_string(C) +
                                " n_head=" + std::to_string(n_head));
  detail::check_blas_size(3 * C, "3*C");
  detail::check_blas_size(T_, "T");
}

}  // namespace

template <class T>
void attention_forward(const T* qkv, T* y, T* lse, int64_t B, int64_t T_, int64_t C, int64_t n_head) {
  check_shape(B, T_, C, n_head);
  if (B == 0 || T_ == 0) return;
  detail::blas_use_single_thread();
  const int64_t hd = C / n_head;
  const T scale = T(1) / std::sqrt(T(hd));
  tbb::enumerable_thread_specific<std::vector<T>> scratch;
  detail::for_each_index(B * n_head, [&](int64_t bh) {
    const int64_t b = bh / n_head, h = bh % n_head;
    std::vector<T>& s = scratch.local();
    s.resize(static_cast<size_t>(T_ * T_));
    const T* q = qkv + b * T_ * 3 * C + h * hd;
    const T* k = q + C;
    const T* v = q + 2 * C;
    detail::gemm(false, true, T_, T_, hd, scale, q, 3 * C, k, 3 * C, T(0), s.data(), T_);
    causal_softmax(s.data(), lse + bh * T_, T_);
    detail::gemm(false, false, T_, hd, T_, T(1), s.data(), T_, v, 3 * C, T(0), y + b * T_ * C + h * hd, C);
  });
}

template <class T>
void attention_backward(const T* dy, const T* qkv, const T* lse, T* dqkv, int64_t B, int64_t T_, int64_t C,
                        int64_t n_head) {
  check_shape(B, T_, C, n_head);
  if (B == 0 || T_ == 0) return;
  detail::blas_use_single_thread();
  const int64_t hd = C / n_head;
  const T scale = T(1) / std::sqrt(T(hd));
  tbb::enumerable_thread_specific<std::vector<T>> scratch;
  detail::for_each_index(B * n_head, [&](int64_t bh) {
    const int64_t b = bh / n_head, h = bh % n_head;
    std::vector<T>& buf = scratch.local();
    buf.resize(static_cast<size_t>(2 * T_ * T_));
    T* p = buf.data();
    T* dp = buf.data() + T_ * T_;
    const int64_t off = b * T_ * 3 * C + h * hd;
    const T *q = qkv + off, *k = q + C, *v = q + 2 * C;
    T *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
    const T* dyh = dy + b * T_ * C + h * hd;
    detail::gemm(false, true, T_, T_, hd, scale, q, 3 * C, k, 3 * C, T(0), p, T_);
    causal_probs(p, lse + bh * T_, T_);
    detail::gemm(false, true, T_, T_, hd, T(1), dyh, C, v, 3 * C, T(0), dp, T_);   // dP = dY V^T
    detail::gemm(true, false, T_, hd, T_, T(1), p, T_, dyh, C, T(0), dv, 3 * C);  // dV = P^T dY
    softmax_backward(p, dp, T_, scale);                                            // dS (scaled)
    detail::gemm(false, false, T_, hd, T_, T(1), dp, T_, k, 3 * C, T(0), dq, 3 * C);  // dQ = dS K
    detail::gemm(true, false, T_, hd, T_, T(1), dp, T_, q, 3 * C, T(0), dk, 3 * C);   // dK = dS^T Q
  });
}

template void attention_forward<float>(const float*, float*, float*, int64_t, int64_t, int64_t, int64_t);
template void attention_forward<double>(const double*, double*, double*, int64_t, int64_t, int64_t, int64_t);
template void attention_backward<float>(const float*, const float*, const float*, float*, int64_t, int64_t,
                                        int64_t, int64_t);
template void attention_backward<double>(const double*, const double*, const double*, double*, int64_t, int64_t,
                                         int64_t, int64_t);

}  // namespace tandem::compute
