// Token + position embedding: fast vs reference (repeated tokens exercise the scatter), errors.
#include <gtest/gtest.h>

#include <oneapi/tbb/task_arena.h>

#include "kernel_test_util.hpp"
#include "tandem/compute/embedding.hpp"
#include "tandem/compute/reference/embedding.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

template <class T>
class EmbeddingTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(EmbeddingTyped, Types);

TYPED_TEST(EmbeddingTyped, FastMatchesReference) {
  using T = TypeParam;
  const int64_t B = 3, Tn = 37, C = 200, V = 13, block = 40;
  std::vector<int32_t> tokens(B * Tn);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * i + 3) % V);  // many repeats
  const auto wte = randn<T>(V * C, 1), wpe = randn<T>(block * C, 2);
  std::vector<T> out(B * Tn * C);
  std::vector<double> out_r(out.size());
  embedding_forward(tokens.data(), wte.data(), wpe.data(), out.data(), B, Tn, C, V);
  ref::embedding_forward(tokens.data(), to_double(wte).data(), to_double(wpe).data(), out_r.data(), B, Tn, C, V);
  expect_close(out, out_r, "embedding forward");
  const auto dout = randn<T>(out.size(), 3);
  auto dwte = randn<T>(wte.size(), 4), dwpe = randn<T>(wpe.size(), 5);
  std::vector<double> dwte_r = to_double(dwte), dwpe_r = to_double(dwpe);
  embedding_backward(tokens.data(), dout.data(), dwte.data(), dwpe.data(), B, Tn, C);
  ref::embedding_backward(tokens.data(), to_double(dout).data(), dwte_r.data(), dwpe_r.data(), B, Tn, C);
  expect_close(dwte, dwte_r, "dwte");
  expect_close(dwpe, dwpe_r, "dwpe");
}

TEST(Embedding, BackwardDoesNotDependOnThreadCount) {
  const int64_t B = 4, Tn = 64, C = 256, V = 5;
  std::vector<int32_t> tokens(B * Tn);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i % V);
  const auto dout = randn<float>(B * Tn * C, 1);
  std::vector<float> a(V * C, 0.f), b(V * C, 0.f), pa(Tn * C, 0.f), pb(Tn * C, 0.f);
  tbb::task_arena(1).execute([&] { embedding_backward(tokens.data(), dout.data(), a.data(), pa.data(), B, Tn, C); });
  tbb::task_arena(2).execute([&] { embedding_backward(tokens.data(), dout.data(), b.data(), pb.data(), B, Tn, C); });
  EXPECT_EQ(a, b);
  EXPECT_EQ(pa, pb);
}

TEST(Embedding, RejectsTokensOutsideTheVocabulary) {
  const std::vector<int32_t> tokens = {0, 1, 5};
  std::vector<float> wte(5 * 2), wpe(3 * 2), out(3 * 2);
  try {
    embedding_forward(tokens.data(), wte.data(), wpe.data(), out.data(), 1, 3, 2, 5);
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("token 5 at position 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tandem::compute
