// The device's exact square sum (tandem/cuda/memory_ops.hpp) against the host's ExactSquareSum
// (tandem/grad_norm.hpp), word for word: every stage's gradient norm, and so the clipping
// coefficient, must be the same bits on a GPU and on the CPU. Inputs that stress what the kernel does
// differently: many values of one exponent in a warp (the aggregation), every exponent, subnormals
// and zeros, the largest significands (the 24-bit halves of a square at their maximum), a length
// that is no multiple of a warp or a chunk, and non-finite values anywhere.
#include <array>
#include <cstring>
#include <limits>

#include "cuda_test_util.hpp"
#include "tandem/cuda/memory_ops.hpp"
#include "tandem/grad_norm.hpp"

namespace tandem::cuda {
namespace {

using Words = sdk::ExactSquareSum::Words;

Words on_device(const std::vector<float>& x) {
  DeviceArray<float> d(x.data(), x.size());
  Words w;
  w.fill(0xdeadbeefdeadbeefull);  // every word must be written
  exact_square_sum(d.get(), static_cast<int64_t>(x.size()), w.data(), nullptr);
  return w;
}

Words on_host(const std::vector<float>& x) {
  sdk::ExactSquareSum s;
  s.add(x);
  return s.to_words();
}

std::vector<float> mixed(test::Random& rng, size_t n) {
  std::vector<float> v(n);
  const auto normal = rng.normal(n, 1e-3);
  std::uniform_int_distribution<uint32_t> bits;
  for (size_t i = 0; i < n; ++i) {
    switch (i % 8) {
      case 0: {  // any finite bit pattern: every exponent, subnormals
        uint32_t u = bits(rng.engine());
        if (((u >> 23) & 0xffu) == 0xffu) u &= ~(1u << 30);
        std::memcpy(&v[i], &u, 4);
        break;
      }
      case 1: v[i] = (i & 16) ? 0.0f : std::numeric_limits<float>::denorm_min() * float(i % 97); break;
      case 2: v[i] = std::nextafter(2.0f, 0.0f) * ((i & 1) ? -1.0f : 1.0f); break;  // significand 2^24 - 1
      default: v[i] = static_cast<float>(normal[i]);  // a gradient's few exponents, many lanes each
    }
  }
  return v;
}

TEST(CudaExactSquareSum, MatchesTheHostWordForWord) {
  TANDEM_REQUIRE_GPU();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  for (size_t n : {size_t(1), size_t(31), size_t(65536), size_t(65537), size_t(3'000'017)}) {
    const auto x = mixed(rng, n);
    const Words got = on_device(x), want = on_host(x);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i] != want[i] && bad++ == 0) first = i;
    EXPECT_EQ(bad, 0u) << "n " << n << ": " << bad << " words differ, first word " << first << " (" << got[first]
                       << " vs " << want[first] << ")";
    std::cout << "[ measure  ] exact square sum of " << n << " values: norm " << sdk::ExactSquareSum::from_words(want).norm()
              << ", " << bad << " words differ\n";
  }
}

TEST(CudaExactSquareSum, OneValueOfOneExponentEverywhereSumsExactly) {
  TANDEM_REQUIRE_GPU();
  // 2^16 values of the largest significand in one chunk: each bin's sum is at its 64-bit limit.
  const std::vector<float> x(size_t(1) << 17, std::nextafter(2.0f, 0.0f));
  EXPECT_EQ(on_device(x), on_host(x));
}

TEST(CudaExactSquareSum, ANonFiniteValueAnywhereSetsTheFlag) {
  TANDEM_REQUIRE_GPU();
  for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()})
    for (size_t where : {size_t(0), size_t(40'000), size_t(99'999)}) {
      std::vector<float> x(100'000, 0.5f);
      x[where] = bad;
      const Words got = on_device(x);
      EXPECT_EQ(got.back(), 1u) << bad << " at " << where;
      EXPECT_EQ(got, on_host(x)) << bad << " at " << where;
    }
}

}  // namespace
}  // namespace tandem::cuda
