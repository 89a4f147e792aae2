// cudnn_sdpa_probe: what the cuDNN attention path does on this machine, step by step, for the lead
// to read when a test of it fails on the GPU. At B=16 T=1024 H=12 D=64 (GPT-2's training shape;
// other shapes as arguments B T C H) it loads cuDNN, builds the forward and backward graphs and
// prints each step's status (Attention::log: every failed call with its status and cuDNN's text,
// the number of engine configs the heuristics return, the one taken and its workspace), runs both
// directions once through cuDNN and once through tandem's kernels on the same random inputs, and
// prints the largest differences of y, lse and dqkv, and whether a second cuDNN backward gives the
// same bits. Exit status 0 when cuDNN took both directions and agrees, 1 otherwise.
//   CUDNN_LOGERR_DBG=1 CUDNN_LOGDEST_DBG=stderr bundle/tools/cudnn_sdpa_probe [B T C H]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tandem/compute/bf16.hpp"
#include "tandem/cuda/attention.hpp"

using namespace tandem;
using namespace tandem::cuda;

namespace {

std::vector<bf16> random_bf16(size_t n, uint64_t salt) {
  std::vector<bf16> h(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    h[i] = compute::to_bf16(static_cast<float>(x >> 40) * (2.0f / 16777216.0f) - 1.0f);
  }
  return h;
}

template <class T>
std::vector<double> host(const DeviceArray<T>& d) {
  std::vector<T> h(d.size());
  d.download(h.data());
  std::vector<double> r(h.size());
  for (size_t i = 0; i < h.size(); ++i) {
    if constexpr (std::is_same_v<T, bf16>)
      r[i] = compute::to_float(h[i]);
    else
      r[i] = h[i];
  }
  return r;
}

// Largest |a - b| and how many elements are not finite in a.
void compare(const char* what, const std::vector<double>& a, const std::vector<double>& b, bool& ok) {
  double max_abs = 0, max_ref = 0;
  size_t nonfinite = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) {
      ++nonfinite;
      continue;
    }
    max_abs = std::max(max_abs, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(b[i]));
  }
  std::printf("compare %-5s cudnn vs tandem: max |diff| %.3e (max |tandem| %.3e), %zu of %zu not finite\n", what,
              max_abs, max_ref, nonfinite, a.size());
  ok = ok && nonfinite == 0 && max_abs <= 0.05 * std::max(max_ref, 1e-30);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t B = 16, T = 1024, C = 768, H = 12;
  if (argc == 5) {
    B = std::atoll(argv[1]), T = std::atoll(argv[2]), C = std::atoll(argv[3]), H = std::atoll(argv[4]);
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: %s [B T C H]\n", argv[0]);
    return 2;
  }
  std::printf("probe: attention B=%lld T=%lld C=%lld H=%lld (head size %lld), bf16, causal\n", (long long)B,
              (long long)T, (long long)C, (long long)H, (long long)(C / H));
  std::string why_no_gpu;
  if (device_count(&why_no_gpu) == 0) {
    std::printf("step  device: none (%s)\n", why_no_gpu.c_str());
    return 1;
  }
  std::printf("step  device: %s\n", device_description().c_str());
  const std::string unavailable = attention_cudnn_unavailable();
  std::printf("step  load libcudnn.so.9: %s\n", unavailable.empty() ? "ok" : unavailable.c_str());
  if (!unavailable.empty()) return 1;

  Attention cudnn(AttentionChoice::cudnn), ours(AttentionChoice::tandem);
  bool ok = true;
  Attention::Paths paths;
  try {
    paths = cudnn.paths(B, T, C, H);  // builds both plans
  } catch (const std::exception& e) {
    std::printf("step  build plans: FAILED: %s\n", e.what());
    ok = false;
  }
  for (const std::string& line : cudnn.log()) std::printf("log   %s\n", line.c_str());
  if (!ok) return 1;
  std::printf("step  paths: forward %s, backward %s\n", paths.forward.c_str(), paths.backward.c_str());

  const size_t n_qkv = size_t(B * T * 3 * C), n_y = size_t(B * T * C), n_lse = size_t(B * H * T);
  const auto qkv_h = random_bf16(n_qkv, 16), dy_h = random_bf16(n_y, 17);
  DeviceArray<bf16> qkv(qkv_h.data(), n_qkv), dy(dy_h.data(), n_y);
  struct Out {
    DeviceArray<bf16> y, dqkv;
    DeviceArray<float> lse;
  };
  const auto run = [&](Attention& a, const char* name) -> Out {
    Out o{DeviceArray<bf16>(n_y), DeviceArray<bf16>(n_qkv), DeviceArray<float>(n_lse)};
    o.y.poison();
    o.dqkv.poison();
    o.lse.poison();
    try {
      attention_forward(a, qkv.get(), o.y.get(), o.lse.get(), B, T, C, H, nullptr);
      synchronize();
      std::printf("step  %s forward: ran\n", name);
      attention_backward(a, dy.get(), qkv.get(), o.y.get(), o.lse.get(), o.dqkv.get(), B, T, C, H, nullptr);
      synchronize();
      std::printf("step  %s backward: ran\n", name);
    } catch (const std::exception& e) {
      std::printf("step  %s: FAILED: %s\n", name, e.what());
      ok = false;
    }
    return o;
  };
  Out c = run(cudnn, "cudnn");
  Out t = run(ours, "tandem");
  if (!ok) return 1;
  compare("y", host(c.y), host(t.y), ok);
  compare("lse", host(c.lse), host(t.lse), ok);
  compare("dqkv", host(c.dqkv), host(t.dqkv), ok);
  Out again = run(cudnn, "cudnn (again)");
  const auto first = host(c.dqkv), second = host(again.dqkv);
  size_t differ = 0;
  for (size_t i = 0; i < first.size(); ++i) differ += first[i] != second[i];
  std::printf("step  cudnn backward twice: %zu of %zu dqkv elements differ (%s)\n", differ, first.size(),
              differ == 0 ? "deterministic" : "NOT deterministic");
  ok = ok && differ == 0;
  std::printf("probe: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
