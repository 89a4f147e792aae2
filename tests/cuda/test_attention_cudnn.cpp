// Causal attention through cuDNN's fused SDPA (tandem::cuda::Attention under the cudnn choice):
// forward (y, lse) and backward (dqkv) against the double reference at small shapes (head sizes 64
// and 128, lengths that are no multiple of a tile) and at GPT-2's (T=1024, C=768, 12 heads), with
// the tolerances of tandem's kernels (test_attention.cpp); the backward bit for bit the same on a
// second run (the GPU engine tests compare ZeRO stages and resumed runs bit for bit); the
// TANDEM_ATTENTION=tandem and =cudnn paths within bf16 tolerance of each other. These skip where
// there is no GPU or cuDNN cannot be loaded. The choice itself (the variable, the refusals of what
// cuDNN cannot take) is checked without a GPU.
#include <cstdlib>
#include <cstring>
#include <optional>

#include "cuda_test_util.hpp"
#include "tandem/compute/reference/attention.hpp"
#include "tandem/cuda/attention.hpp"

namespace tandem::cuda {
namespace {

#define TANDEM_REQUIRE_CUDNN()                                                          \
  do {                                                                                  \
    TANDEM_REQUIRE_GPU();                                                               \
    const std::string why_no_cudnn = ::tandem::cuda::attention_cudnn_unavailable();     \
    if (!why_no_cudnn.empty()) GTEST_SKIP() << "cuDNN cannot be loaded: " << why_no_cudnn; \
  } while (0)

struct Shape {
  int64_t B, T, C, H;
  std::string tag() const {
    return "B=" + std::to_string(B) + " T=" + std::to_string(T) + " C=" + std::to_string(C) + " H=" + std::to_string(H);
  }
  size_t qkv() const { return size_t(B * T * 3 * C); }
  size_t y() const { return size_t(B * T * C); }
  size_t lse() const { return size_t(B * H * T); }
};

// Sets an environment variable for a scope and puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// One forward and backward through `attention` on fresh device buffers (outputs poisoned first).
struct Outputs {
  std::vector<double> y, lse, dqkv;
  std::vector<unsigned char> y_bits, lse_bits, dqkv_bits;
};
template <class T>
std::vector<unsigned char> bits(const DeviceArray<T>& d) {
  std::vector<unsigned char> h(d.size() * sizeof(T));
  copy_to_host(h.data(), d.get(), h.size());
  return h;
}
Outputs run(Attention& attention, const Shape& s, const std::vector<bf16>& qkv, const std::vector<bf16>& dy) {
  DeviceArray<bf16> d_qkv(qkv.data(), s.qkv()), d_y(s.y()), d_dy(dy.data(), s.y()), d_dqkv(s.qkv());
  DeviceArray<float> d_lse(s.lse());
  d_y.poison();
  d_lse.poison();
  d_dqkv.poison();
  attention_forward(attention, d_qkv.get(), d_y.get(), d_lse.get(), s.B, s.T, s.C, s.H, nullptr);
  attention_backward(attention, d_dy.get(), d_qkv.get(), d_y.get(), d_lse.get(), d_dqkv.get(), s.B, s.T, s.C, s.H,
                     nullptr);
  synchronize();
  return Outputs{test::download(d_y), test::download(d_lse), test::download(d_dqkv), bits(d_y), bits(d_lse), bits(d_dqkv)};
}

TEST(CudnnAttention, ForwardAndBackwardMatchReference) {
  TANDEM_REQUIRE_CUDNN();
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  Attention attention(AttentionChoice::cudnn);  // any cuDNN failure throws: never tandem's kernels here
  for (const Shape s : {Shape{2, 150, 128, 2}, Shape{1, 37, 128, 2}, Shape{1, 200, 256, 2}, Shape{2, 1024, 768, 12}}) {
    const std::string tag = "cudnn " + s.tag();
    SCOPED_TRACE(tag);
    const Attention::Paths paths = attention.paths(s.B, s.T, s.C, s.H);
    ASSERT_EQ(paths.forward, "cudnn") << paths.why;
    ASSERT_EQ(paths.backward, "cudnn") << paths.why;
    const auto qkv = test::as<bf16>(rng.normal(s.qkv()));
    const auto dy = test::as<bf16>(rng.normal(s.y()));
    const Outputs got = run(attention, s, qkv.host, dy.host);
    std::vector<double> y(s.y()), lse(s.lse()), dqkv(s.qkv());
    compute::ref::attention_forward(qkv.exact.data(), y.data(), lse.data(), s.B, s.T, s.C, s.H);
    compute::ref::attention_backward(dy.exact.data(), qkv.exact.data(), lse.data(), dqkv.data(), s.B, s.T, s.C, s.H);
    test::expect_close(got.y, y, test::rel_tol<bf16>(), "attention y " + tag);
    // cuDNN's softmax Stats are tandem's lse: the natural-log log-sum-exp of the scaled scores.
    test::expect_close(got.lse, lse, test::rel_tol<float>(), "attention lse " + tag);
    test::expect_close(got.dqkv, dqkv, test::rel_tol<bf16>(), "attention dqkv " + tag);
  }
  for (const std::string& line : attention.log()) std::cout << "[ cudnn    ] " << line << "\n";
}

TEST(CudnnAttention, TwoRunsGiveTheSameBits) {
  TANDEM_REQUIRE_CUDNN();
  const Shape s{4, 1024, 768, 12};  // GPT-2's heads, several blocks per (batch, head) in every direction
  test::Random rng(test::fresh_seed());
  const auto qkv = test::as<bf16>(rng.normal(s.qkv()));
  const auto dy = test::as<bf16>(rng.normal(s.y()));
  Attention attention(AttentionChoice::cudnn);
  const Outputs first = run(attention, s, qkv.host, dy.host);
  const Outputs second = run(attention, s, qkv.host, dy.host);
  EXPECT_TRUE(first.y_bits == second.y_bits) << "forward y differs between two runs";
  EXPECT_TRUE(first.lse_bits == second.lse_bits) << "forward lse differs between two runs";
  size_t differing = 0;
  for (size_t i = 0; i < first.dqkv_bits.size(); ++i) differing += first.dqkv_bits[i] != second.dqkv_bits[i];
  EXPECT_EQ(differing, 0u) << "backward dqkv: " << differing << " bytes differ between two runs (not deterministic)";
}

TEST(CudnnAttention, TandemAndCudnnChoicesAgree) {
  TANDEM_REQUIRE_CUDNN();
  const Shape s{2, 1024, 768, 12};
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  test::Random rng(seed);
  const auto qkv = test::as<bf16>(rng.normal(s.qkv()));
  const auto dy = test::as<bf16>(rng.normal(s.y()));
  const auto made_from = [](const char* value) {
    ScopedEnv env("TANDEM_ATTENTION", value);
    return attention_choice_from_environment();
  };
  Attention ours(made_from("tandem")), theirs(made_from("cudnn"));
  ASSERT_EQ(ours.choice(), AttentionChoice::tandem);
  ASSERT_EQ(theirs.choice(), AttentionChoice::cudnn);
  const Outputs a = run(ours, s, qkv.host, dy.host), b = run(theirs, s, qkv.host, dy.host);
  test::expect_close(b.y, a.y, test::rel_tol<bf16>(), "cudnn vs tandem y");
  test::expect_close(b.lse, a.lse, test::rel_tol<float>(), "cudnn vs tandem lse");
  test::expect_close(b.dqkv, a.dqkv, test::rel_tol<bf16>(), "cudnn vs tandem dqkv");
}

// No GPU needed below: the choice and the refusals come before anything touches a device.

TEST(AttentionChoice, ReadsTandemAttention) {
  {
    ScopedEnv env("TANDEM_ATTENTION", nullptr);
    EXPECT_EQ(attention_choice_from_environment(), AttentionChoice::automatic);
  }
  {
    ScopedEnv env("TANDEM_ATTENTION", "auto");
    EXPECT_EQ(attention_choice_from_environment(), AttentionChoice::automatic);
  }
  {
    ScopedEnv env("TANDEM_ATTENTION", "tandem");
    EXPECT_EQ(attention_choice_from_environment(), AttentionChoice::tandem);
  }
  {
    ScopedEnv env("TANDEM_ATTENTION", "cudnn");
    EXPECT_EQ(attention_choice_from_environment(), AttentionChoice::cudnn);
  }
  ScopedEnv env("TANDEM_ATTENTION", "cuDNN9");
  try {
    Attention a;  // reads the variable
    (void)a;
    FAIL() << "TANDEM_ATTENTION=cuDNN9 was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("TANDEM_ATTENTION=\"cuDNN9\""), std::string::npos) << m;
    EXPECT_NE(m.find("auto"), std::string::npos) << m;
    EXPECT_NE(m.find("cudnn"), std::string::npos) << m;
  }
}

TEST(AttentionChoice, WhatCudnnCannotTakeIsAnErrorOnlyWhenDemanded) {
  // Head size 32 (C=96, 3 heads): tandem's tensor-core kernels take it; cuDNN's path does not.
  Attention automatic(AttentionChoice::automatic);
  const Attention::Paths p = automatic.paths(1, 64, 96, 3);
  EXPECT_EQ(p.forward, "tandem");
  EXPECT_EQ(p.backward, "tandem");
  EXPECT_NE(p.why.find("head size 32"), std::string::npos) << p.why;

  Attention demanded(AttentionChoice::cudnn);
  try {
    demanded.paths(1, 64, 96, 3);
    FAIL() << "TANDEM_ATTENTION=cudnn accepted head size 32";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("TANDEM_ATTENTION=cudnn"), std::string::npos) << m;
    EXPECT_NE(m.find("forward B=1 T=64 C=96 H=3"), std::string::npos) << m;
    EXPECT_NE(m.find("head size 32"), std::string::npos) << m;
  }
  // fp32 is tandem's own: refused under the cudnn choice before anything is launched.
  try {
    attention_forward<float>(demanded, nullptr, nullptr, nullptr, 1, 64, 128, 2, nullptr);
    FAIL() << "TANDEM_ATTENTION=cudnn accepted fp32";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fp32"), std::string::npos) << e.what();
  }
  Attention tandem(AttentionChoice::tandem);
  const Attention::Paths t = tandem.paths(2, 1024, 768, 12);
  EXPECT_EQ(t.forward, "tandem");
  EXPECT_EQ(t.backward, "tandem");
}

}  // namespace
}  // namespace tandem::cuda
