// Timings of the kernels at GPT-2 small's training sizes (B=8, T=1024, C=768, V=50257), for the
// record and to catch an obviously slow design; not a benchmark suite (that is tools/bench's job).
// DISABLED_ so that ctest never runs them; on the GPU machine:
//   bundle/run-gpu-tests.sh --gtest_also_run_disabled_tests --gtest_filter='CudaTiming.*'
// Each kernel runs twice to warm up, then 10 times, each timed by the host clock around a device
// synchronize; the median is printed with the bytes or flops it implies. Inputs are random (never
// zeros, which can run faster than real data).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "cuda_test_util.hpp"
#include "tandem/cuda/adamw.hpp"
#include "tandem/cuda/attention.hpp"
#include "tandem/cuda/classifier.hpp"
#include "tandem/cuda/gelu.hpp"
#include "tandem/cuda/layernorm.hpp"
#include "tandem/cuda/matmul.hpp"

namespace tandem::cuda {
namespace {

constexpr int64_t kB = 8, kT = 1024, kC = 768, kV = 50257, kH = 12, kRows = kB * kT;

double median_ms(const std::function<void()>& launch) {
  for (int i = 0; i < 2; ++i) launch();
  synchronize();
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    launch();
    synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void report(const char* what, double ms, double bytes, double flops = 0) {
  std::printf("[ timing   ] %-44s %9.3f ms  %8.1f GB/s", what, ms, bytes / ms * 1e-6);
  if (flops > 0) std::printf("  %7.1f TFLOP/s", flops / ms * 1e-9);
  std::printf("\n");
}

// Random bf16 (or float) values in [-scale, scale) from a cheap hash: fast enough for 400M values.
template <class T>
DeviceArray<T> random_array(size_t n, uint64_t salt, float scale = 1.0f) {
  std::vector<T> h(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    const float u = static_cast<float>(x >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
    if constexpr (std::is_same_v<T, bf16>)
      h[i] = compute::to_bf16(u * scale);
    else
      h[i] = u * scale;
  }
  return DeviceArray<T>(h.data(), n);
}

TEST(CudaTiming, DISABLED_Gpt2SmallSizes) {
  TANDEM_REQUIRE_GPU();
  std::printf("[ timing   ] device: %s\n", device_description().c_str());
  {  // LayerNorm, bf16 [B*T, C]
    auto x = random_array<bf16>(size_t(kRows * kC), 1, 3.0f), w = random_array<bf16>(static_cast<size_t>(kC), 2);
    auto b = random_array<bf16>(static_cast<size_t>(kC), 3), out = DeviceArray<bf16>(size_t(kRows * kC));
    auto dx = random_array<bf16>(size_t(kRows * kC), 4);
    DeviceArray<float> mean(static_cast<size_t>(kRows)), rstd(static_cast<size_t>(kRows)), dw(static_cast<size_t>(kC)),
        db(static_cast<size_t>(kC));
    const double act = double(kRows * kC) * 2;
    report("layernorm forward bf16 [8192 x 768]", median_ms([&] {
             layernorm_forward(x.get(), w.get(), b.get(), out.get(), mean.get(), rstd.get(), kRows, kC, nullptr);
           }),
           2 * act);
    report("layernorm backward bf16", median_ms([&] {
             layernorm_backward(out.get(), x.get(), w.get(), mean.get(), rstd.get(), dx.get(), dw.get(), db.get(),
                                kRows, kC, nullptr);
           }),
           4 * act);
  }
  {  // GELU, bf16 [B*T, 4C]
    const size_t n = size_t(kRows * 4 * kC);
    auto x = random_array<bf16>(n, 5, 3.0f), y = DeviceArray<bf16>(n), g = random_array<bf16>(n, 6);
    report("gelu forward bf16 [8192 x 3072]", median_ms([&] { gelu_forward(x.get(), y.get(), int64_t(n), nullptr); }),
           4.0 * double(n));
    report("gelu backward bf16", median_ms([&] { gelu_backward(x.get(), g.get(), int64_t(n), nullptr); }),
           6.0 * double(n));
  }
  {  // The classifier: ce + distillation KL, bf16 [B*T, V], gradient into a separate buffer
    const size_t n = size_t(kRows * kV);
    auto z = random_array<bf16>(n, 7, 5.0f), t = random_array<bf16>(n, 8, 5.0f), d = DeviceArray<bf16>(n);
    std::vector<int32_t> targets(static_cast<size_t>(kRows));
    for (size_t i = 0; i < targets.size(); ++i) targets[i] = int32_t((i * 7919) % static_cast<size_t>(kV));
    DeviceArray<int32_t> tg(targets.data(), targets.size());
    DeviceArray<float> ce(static_cast<size_t>(kRows)), kl(static_cast<size_t>(kRows));
    ClassifierLoss loss;
    loss.targets = tg.get();
    loss.ce_scale = 1.0f / float(kRows);
    report("classifier ce only bf16 [8192 x 50257]",
           median_ms([&] { classifier_loss(z.get(), d.get(), ce.get(), nullptr, kRows, kV, loss, nullptr); }),
           3.0 * 2 * double(n));
    loss.teacher = t.get();
    loss.temperature = 2.0f;
    loss.kl_scale = 1.0f / float(kRows);
    report("classifier ce + kl bf16", median_ms([&] {
             classifier_loss(z.get(), d.get(), ce.get(), kl.get(), kRows, kV, loss, nullptr);
           }),
           5.0 * 2 * double(n));
  }
  {  // AdamW over GPT-2 small's 124M parameters, bf16 gradients, bf16 copy written
    const size_t n = 124439808;
    auto p = random_array<float>(n, 9), m = random_array<float>(n, 10, 0.01f);
    DeviceArray<float> v;
    auto g = random_array<bf16>(n, 12, 0.01f);
    DeviceArray<bf16> p16(n);
    // v must stay >= 0 for sqrt: the random values are shifted into [0, 0.02).
    v = DeviceArray<float>(n);
    {
      std::vector<float> h(n);
      for (size_t i = 0; i < n; ++i) h[i] = 0.01f + 0.01f * float((i * 2654435761u) % 1000u) / 1000.0f;
      v.upload(h.data());
    }
    const AdamConstants c{1.0f, 0.9f, 0.1f, 0.999f, 0.001f, 1.0f, 1e-8f, -1e-4f, 0.0f, -1e-5f, AdamDecay::Decoupled};
    report("adamw 124M params (bf16 grads, bf16 copy)", median_ms([&] {
             adam_update(p.get(), g.get(), m.get(), v.get(), p16.get(), int64_t(n), c, nullptr);
           }),
           double(n) * (4 * 3 * 2 + 2 + 2));
  }
  {  // cuBLASLt: the qkv projection [B*T, C] x [C, 3C] with bias, bf16 out
    Blas blas;
    auto a = random_array<bf16>(size_t(kRows * kC), 13), w = random_array<bf16>(size_t(kC * 3 * kC), 14);
    auto bias = random_array<bf16>(size_t(3 * kC), 15);
    DeviceArray<bf16> out(size_t(kRows * 3 * kC));
    const double flops = 2.0 * double(kRows) * double(kC) * double(3 * kC);
    report("matmul [8192 x 768] x [768 x 2304] +bias", median_ms([&] {
             matmul<bf16>(blas, a.get(), Trans::no, w.get(), Trans::no, out.get(), kRows, 3 * kC, kC, nullptr, 1.0f,
                          0.0f, bias.get());
           }),
           2.0 * double(kRows * kC + kC * 3 * kC + kRows * 3 * kC), flops);
  }
  // Attention, bf16, T=1024 C=768 H=12 (head size 64), both paths (tandem's kernels; cuDNN's fused
  // SDPA where it loads), at B=8 and GPT-2's training B=16. FLOPs as FlashAttention's benchmark
  // counts them: 4 B H T^2 D forward, halved for the causal mask; the backward 2.5 times that.
  for (const int64_t B : {kB, 2 * kB}) {
    const int64_t rows = B * kT;
    auto qkv = random_array<bf16>(size_t(rows * 3 * kC), 16), dy = random_array<bf16>(size_t(rows * kC), 17);
    DeviceArray<bf16> y(size_t(rows * kC)), dqkv(size_t(rows * 3 * kC));
    DeviceArray<float> lse(size_t(B * kH * kT));
    const double flops = 4.0 * double(B * kH) * double(kT) * double(kT) / 2 * double(kC / kH);
    for (const AttentionChoice choice : {AttentionChoice::tandem, AttentionChoice::cudnn}) {
      const bool is_cudnn = choice == AttentionChoice::cudnn;
      if (is_cudnn && !attention_cudnn_unavailable().empty()) {
        std::printf("[ timing   ] attention cudnn: not timed, %s\n", attention_cudnn_unavailable().c_str());
        continue;
      }
      Attention attention(choice);
      const std::string tag = std::string("attention ") + (is_cudnn ? "cudnn " : "tandem ") + "B=" + std::to_string(B);
      try {
        const double fwd = median_ms([&] {
          attention_forward(attention, qkv.get(), y.get(), lse.get(), B, kT, kC, kH, nullptr);
        });
        const double bwd = median_ms([&] {
          attention_backward(attention, dy.get(), qkv.get(), y.get(), lse.get(), dqkv.get(), B, kT, kC, kH, nullptr);
        });
        report((tag + " forward").c_str(), fwd, 2.0 * double(rows * 4 * kC), flops);
        report((tag + " backward").c_str(), bwd, 2.0 * double(rows * 8 * kC), 2.5 * flops);
        report((tag + " fwd+bwd").c_str(), fwd + bwd, 2.0 * double(rows * 12 * kC), 3.5 * flops);
      } catch (const std::exception& e) {
        std::printf("[ timing   ] %s: FAILED: %s\n", tag.c_str(), e.what());
        for (const std::string& line : attention.log()) std::printf("[ timing   ]   %s\n", line.c_str());
      }
    }
  }
}

}  // namespace
}  // namespace tandem::cuda
