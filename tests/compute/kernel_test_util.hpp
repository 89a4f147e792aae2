// Helpers for the kernel tests: seeded random inputs, per-dtype tolerances, elementwise
// comparison that names the first mismatch, and central finite differences.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tandem/compute/rng.hpp"

namespace tandem::compute::test {

template <class T>
std::vector<T> randn(size_t n, uint64_t stream, double scale = 1.0, double shift = 0.0) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<T>(shift + scale * normal(20240611, stream, i));
  return v;
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Fast<T> is compared against the reference in double: float results within float's rounding,
// double results to near machine precision.
template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr double rtol = 1e-5, atol = 1e-6;
};
template <>
struct Tol<double> {
  static constexpr double rtol = 1e-12, atol = 1e-13;
};

// |got - want| <= atol * scale + rtol * |want| for every element, scale = max |want| (at least 1).
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<double>& want, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(static_cast<double>(got[i]) - want[i]);
    const double lim = atol * scale + rtol * std::abs(want[i]);
    if (!(err <= lim)) {
      if (bad++ == 0) first = i;
      worst = std::max(worst, err);
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " differ; first at " << first << ": got "
                     << (got.empty() ? 0.0 : static_cast<double>(got[first])) << ", want "
                     << (want.empty() ? 0.0 : want[first]) << "; worst error " << worst;
}

template <class T>
void expect_close(const std::vector<T>& got, const std::vector<double>& want, const std::string& what) {
  expect_close(got, want, Tol<T>::rtol, Tol<T>::atol, what);
}

// Checks analytic[i] against the central difference (f(x+h) - f(x-h)) / 2h for every i, where f
// reads x. |fd - an| <= tol * max(|fd|, |an|, floor).
inline void expect_gradient(std::vector<double>& x, const std::vector<double>& analytic,
                            const std::function<double()>& f, const std::string& what, double h = 1e-5,
                            double tol = 1e-6, double floor = 1e-3) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  size_t bad = 0;
  std::string first;
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = f();
    x[i] = saved - h;
    const double down = f();
    x[i] = saved;
    const double fd = (up - down) / (2 * h);
    const double denom = std::max({std::abs(fd), std::abs(analytic[i]), floor});
    if (!(std::abs(fd - analytic[i]) <= tol * denom)) {
      if (bad++ == 0)
        first = "element " + std::to_string(i) + ": finite difference " + std::to_string(fd) + ", analytic " +
                std::to_string(analytic[i]);
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << x.size() << " gradients wrong; " << first;
}

// Sum of a[i] * b[i] in double: the projection that turns an output into a scalar loss.
template <class A>
double dot(const std::vector<A>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace tandem::compute::test
