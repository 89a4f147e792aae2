// Links the installed tandem::compute: a TBB-parallel reduction checked against its closed form,
// and OpenBLAS opened at run time as blas_info() reports it. Exit status 0 only if both work.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "tandem/compute/blas_info.hpp"
#include "tandem/compute/elementwise.hpp"

int main() {
  constexpr int64_t n = 100000;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  // 1^2 + ... + n^2 = n(n+1)(2n+1)/6, exact in double at this n (every partial sum is below 2^53).
  const double want = static_cast<double>(n) * (n + 1) * (2 * n + 1) / 6.0;
  const double got = tandem::compute::sum_of_squares(x.data(), n);
  if (got != want) {
    std::fprintf(stderr, "sum_of_squares: %.17g, want %.17g\n", got, want);
    return 1;
  }
  const tandem::compute::BlasInfo blas = tandem::compute::blas_info();
  if (blas.library.empty()) {
    std::fprintf(stderr, "blas_info: no library\n");
    return 1;
  }
  std::printf("sum_of_squares ok; BLAS %s (%s)\n", blas.library.c_str(), blas.kernels.c_str());
  return 0;
}
