// GQA packing: fast vs reference, the repeat_kv head mapping by hand, and grouped-query attention as
// a whole (pack -> attention -> backward -> unpack, in double) against finite differences in q, k, v.
#include <gtest/gtest.h>

#include "kernel_test_util.hpp"
#include "tandem/compute/gqa.hpp"
#include "tandem/compute/reference/attention.hpp"
#include "tandem/compute/reference/gqa.hpp"

namespace tandem::compute {
namespace {

using test::expect_close;
using test::randn;
using test::to_double;

template <class T>
class GqaTyped : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GqaTyped, Types);

TYPED_TEST(GqaTyped, FastMatchesReference) {
  using T = TypeParam;
  for (int64_t kv : {1, 2, 6}) {
    const int64_t rows = 700, H = 6, hd = 4, C = H * hd, Ckv = kv * hd;
    const auto q = randn<T>(rows * C, 1), k = randn<T>(rows * Ckv, 2), v = randn<T>(rows * Ckv, 3);
    std::vector<T> qkv(rows * 3 * C);
    std::vector<double> qkv_r(qkv.size());
    gqa_pack(q.data(), k.data(), v.data(), qkv.data(), rows, H, kv, hd);
    ref::gqa_pack(to_double(q).data(), to_double(k).data(), to_double(v).data(), qkv_r.data(), rows, H, kv, hd);
    expect_close(qkv, qkv_r, "pack kv=" + std::to_string(kv));
    const auto dqkv = randn<T>(rows * 3 * C, 4);
    std::vector<T> dq(rows * C), dk(rows * Ckv, T(7)), dv(rows * Ckv, T(7));  // overwritten, not added to
    std::vector<double> dq_r(dq.size()), dk_r(dk.size()), dv_r(dv.size());
    gqa_unpack_backward(dqkv.data(), dq.data(), dk.data(), dv.data(), rows, H, kv, hd);
    ref::gqa_unpack_backward(to_double(dqkv).data(), dq_r.data(), dk_r.data(), dv_r.data(), rows, H, kv, hd);
    expect_close(dq, dq_r, "dq");
    expect_close(dk, dk_r, "dk");
    expect_close(dv, dv_r, "dv");
  }
}

// 4 query heads on 2 kv heads: query heads 0, 1 read kv head 0 and 2, 3 read kv head 1 (repeat_kv's
// expand, not a tiling 0, 1, 0, 1).
TEST(GqaPack, RepeatsEachKvHeadForItsGroup) {
  const std::vector<double> q(4, 0.0), k = {10, 20}, v = {30, 40};  // one token, head_dim 1
  std::vector<double> qkv(12);
  gqa_pack(q.data(), k.data(), v.data(), qkv.data(), 1, 4, 2, 1);
  EXPECT_EQ(std::vector<double>(qkv.begin() + 4, qkv.begin() + 8), (std::vector<double>{10, 10, 20, 20}));
  EXPECT_EQ(std::vector<double>(qkv.begin() + 8, qkv.end()), (std::vector<double>{30, 30, 40, 40}));
}

TEST(GqaPack, RefusesKvHeadsThatDoNotDivide) {
  std::vector<float> buf(64);
  EXPECT_THROW(gqa_pack(buf.data(), buf.data(), buf.data(), buf.data(), 1, 4, 3, 2), std::invalid_argument);
}

TEST(GqaAttention, BackwardMatchesFiniteDifferences) {
  const int64_t B = 2, Tn = 4, H = 4, kv = 2, hd = 3, C = H * hd, Ckv = kv * hd, rows = B * Tn;
  auto q = randn<double>(rows * C, 1), k = randn<double>(rows * Ckv, 2), v = randn<double>(rows * Ckv, 3);
  const auto r = randn<double>(rows * C, 4);
  std::vector<double> qkv(rows * 3 * C), y(rows * C), lse(B * H * Tn);
  auto loss = [&] {
    ref::gqa_pack(q.data(), k.data(), v.data(), qkv.data(), rows, H, kv, hd);
    ref::attention_forward(qkv.data(), y.data(), lse.data(), B, Tn, C, H);
    return test::dot(y, r);
  };
  loss();
  std::vector<double> dqkv(qkv.size()), dq(q.size()), dk(k.size()), dv(v.size());
  ref::attention_backward(r.data(), qkv.data(), lse.data(), dqkv.data(), B, Tn, C, H);
  gqa_unpack_backward(dqkv.data(), dq.data(), dk.data(), dv.data(), rows, H, kv, hd);
  test::expect_gradient(q, dq, loss, "dq");
  test::expect_gradient(k, dk, loss, "dk");
  test::expect_gradient(v, dv, loss, "dv");
}

}  // namespace
}  // namespace tandem::compute
