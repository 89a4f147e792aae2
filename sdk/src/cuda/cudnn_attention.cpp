// tandem::cuda::Attention: the choice between tandem's attention kernels and cuDNN's fused SDPA, and
// the cuDNN state behind it (handle, plans per shape and direction, workspace), owned by the caller
// as Blas owns cuBLASLt's. Where tandem was built without cuDNN's headers, cuDNN is never available
// and says so.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "cudnn_library.hpp"
#include "cudnn_sdpa.hpp"
#include "tandem/cuda/attention.hpp"

namespace tandem::cuda {

AttentionChoice attention_choice_from_environment() {
  const char* v = std::getenv("TANDEM_ATTENTION");
  if (v == nullptr || std::string(v).empty() || std::string(v) == "auto") return AttentionChoice::automatic;
  if (std::string(v) == "tandem") return AttentionChoice::tandem;
  if (std::string(v) == "cudnn") return AttentionChoice::cudnn;
  throw Error("TANDEM_ATTENTION=\"" + std::string(v) +
              "\": not one of auto (cuDNN where it loads and builds, else tandem's kernels), tandem, cudnn; "
              "unset it or set one of those");
}

std::string attention_cudnn_unavailable() {
#if TANDEM_HAVE_CUDNN_HEADERS
  return detail::cudnn_library().why_not;
#else
  return "tandem was built without cuDNN's headers (cudnn_graph.h was not found)";
#endif
}

namespace {

const char* direction_name(bool forward) { return forward ? "forward" : "backward"; }

std::string shape_text(int64_t B, int64_t T, int64_t C, int64_t H) {
  return "B=" + std::to_string(B) + " T=" + std::to_string(T) + " C=" + std::to_string(C) + " H=" + std::to_string(H);
}

// Why cuDNN cannot take a bf16 call of this shape whatever the library says; empty if it can.
std::string shape_refusal(int64_t B, int64_t T, int64_t C, int64_t H) {
  if (B <= 0 || T <= 0 || C <= 0 || H <= 0 || C % H != 0) return "bad shape " + shape_text(B, T, C, H);
  const int64_t hd = C / H;
  if (hd != 64 && hd != 128)
    return "head size " + std::to_string(hd) + " (cuDNN's path here takes head sizes 64 and 128)";
  return "";
}

}  // namespace

struct Attention::Impl {
  AttentionChoice choice;
  std::mutex mutex;
  std::vector<std::string> log;    // every plan build's steps (Attention::log)
  std::set<std::string> reported;  // reasons already printed: each once per owner

  // Says on stderr, once per reason (`why`: the same for both directions and every shape it
  // concerns), that tandem's kernels take what cuDNN could not. A library that did not load was
  // already said once per process where it was opened (cudnn_library.cpp).
  void report(const std::string& why, const std::string& what) {
#if TANDEM_HAVE_CUDNN_HEADERS
    if (lib != nullptr && !lib->loaded() && why == lib->why_not) return;
#endif
    if (reported.insert(why).second)
      std::fprintf(stderr, "tandem: attention: %s; tandem's kernels take it (TANDEM_ATTENTION=cudnn makes this an error)\n",
                   what.c_str());
  }

#if TANDEM_HAVE_CUDNN_HEADERS
  const detail::CudnnLibrary* lib = nullptr;
  cudnnHandle_t handle = nullptr;
  struct Entry {
    std::unique_ptr<detail::SdpaPlan> plan;  // null: cuDNN cannot take it, for `why`
    std::string why;
  };
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, bool>, Entry> plans;
  DeviceArray<unsigned char> workspace;

  ~Impl() {
    plans.clear();  // plans before the handle they were built on
    if (handle) (void)lib->destroy(handle);
  }

  // The plan for this call, or null with *why set. Builds (and remembers) it on first use.
  const detail::SdpaPlan* plan(int64_t B, int64_t T, int64_t C, int64_t H, bool forward, std::string* why) {
    const auto key = std::make_tuple(B, T, C, H, forward);
    auto it = plans.find(key);
    if (it == plans.end()) {
      Entry e;
      try {
        if (lib == nullptr) lib = &detail::cudnn_library();
        if (!lib->loaded()) throw Error(lib->why_not);
        if (handle == nullptr) lib->check(lib->create(&handle), "cudnnCreate");
        e.plan = detail::SdpaPlan::build(*lib, handle, detail::SdpaShape{B, T, C, H},
                                         forward ? detail::SdpaDirection::forward : detail::SdpaDirection::backward,
                                         log);
      } catch (const std::exception& ex) {
        e.why = ex.what();
        log.push_back(std::string(direction_name(forward)) + " " + shape_text(B, T, C, H) + ": " + e.why);
      }
      it = plans.emplace(key, std::move(e)).first;
    }
    if (!it->second.plan) *why = it->second.why;
    return it->second.plan.get();
  }

  void* workspace_for(const detail::SdpaPlan& p) {
    const size_t bytes = p.workspace_bytes();
    if (bytes == 0) return nullptr;
    // Growing frees the old buffer with cudaFree, which first waits for the device: no queued run
    // still uses it.
    if (workspace.size() < bytes) workspace = DeviceArray<unsigned char>(bytes);
    return workspace.get();
  }

  void set_stream(cudaStream_t stream) { lib->check(lib->set_stream(handle, stream), "cudnnSetStream"); }
#endif

  // The cuDNN plan a call takes, or null for tandem's kernels. Under the cudnn choice a call cuDNN
  // cannot take throws, naming the direction, the shape and what failed.
  template <class T>
  const void* select(int64_t B, int64_t T_, int64_t C, int64_t H, bool forward, std::initializer_list<const void*> ptrs) {
    if (choice == AttentionChoice::tandem) return nullptr;
    std::string why;
    const void* chosen = nullptr;
    if (!std::is_same_v<T, bf16>) {
      // fp32 is tandem's own (true fp32 products for checks): said only where cuDNN was demanded.
      if (choice == AttentionChoice::automatic) return nullptr;
      why = "fp32 attention (cuDNN's path here is bf16 only)";
    } else if (std::string r = shape_refusal(B, T_, C, H); !r.empty()) {
      why = r;
    } else {
      bool aligned = true;
      for (const void* p : ptrs) aligned = aligned && reinterpret_cast<uintptr_t>(p) % 16 == 0;
      if (!aligned) {
        why = "a pointer that is not 16-byte aligned";
      } else {
#if TANDEM_HAVE_CUDNN_HEADERS
        chosen = plan(B, T_, C, H, forward, &why);
#else
        why = "tandem was built without cuDNN's headers (cudnn_graph.h was not found)";
#endif
      }
    }
    if (chosen) return chosen;
    const std::string what = std::string("cuDNN cannot take attention ") + direction_name(forward) + " " +
                             shape_text(B, T_, C, H) + ": " + why;
    if (choice == AttentionChoice::cudnn) throw Error("TANDEM_ATTENTION=cudnn: " + what);
    report(why, what);
    return nullptr;
  }
};

struct AttentionAccess {
  static Attention::Impl& impl(Attention& a) { return *a.impl_; }
};

Attention::Attention(AttentionChoice choice) : impl_(std::make_unique<Impl>()) { impl_->choice = choice; }
Attention::~Attention() = default;
AttentionChoice Attention::choice() const { return impl_->choice; }

std::vector<std::string> Attention::log() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->log;
}

Attention::Paths Attention::paths(int64_t B, int64_t T_, int64_t C, int64_t n_head) {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  Paths p;
  if (d.choice == AttentionChoice::tandem) {
    p.forward = p.backward = "tandem";
    p.why = "TANDEM_ATTENTION=tandem";
    return p;
  }
  const auto path = [&](bool forward) -> std::string {
    std::string why;
    const std::string r = shape_refusal(B, T_, C, n_head);
#if TANDEM_HAVE_CUDNN_HEADERS
    const bool ok = r.empty() && d.plan(B, T_, C, n_head, forward, &why) != nullptr;
#else
    why = "tandem was built without cuDNN's headers (cudnn_graph.h was not found)";
    const bool ok = false;
#endif
    if (!r.empty()) why = r;
    if (ok) return "cudnn";
    const std::string what =
        std::string("cuDNN cannot take attention ") + direction_name(forward) + " " + shape_text(B, T_, C, n_head) + ": " + why;
    if (d.choice == AttentionChoice::cudnn) throw Error("TANDEM_ATTENTION=cudnn: " + what);
    if (p.why.empty()) p.why = what;
    return "tandem";
  };
  p.forward = path(true);
  p.backward = path(false);
  return p;
}

template <class T>
void attention_forward(Attention& attention, const T* qkv, T* y, float* lse, int64_t B, int64_t T_, int64_t C,
                       int64_t n_head, cudaStream_t stream) {
  Attention::Impl& d = AttentionAccess::impl(attention);
  std::unique_lock<std::mutex> lock(d.mutex);
  [[maybe_unused]] const void* chosen = d.template select<T>(B, T_, C, n_head, true, {qkv, y, lse});
#if TANDEM_HAVE_CUDNN_HEADERS
  if (chosen) {
    const auto& plan = *static_cast<const detail::SdpaPlan*>(chosen);
    void* ws = d.workspace_for(plan);
    d.set_stream(stream);
    plan.run_forward(d.handle, qkv, y, lse, ws);
    return;
  }
#endif
  lock.unlock();
  attention_forward(qkv, y, lse, B, T_, C, n_head, stream);
}

template <class T>
void attention_backward(Attention& attention, const T* dy, const T* qkv, const T* y, const float* lse, T* dqkv,
                        int64_t B, int64_t T_, int64_t C, int64_t n_head, cudaStream_t stream) {
  Attention::Impl& d = AttentionAccess::impl(attention);
  std::unique_lock<std::mutex> lock(d.mutex);
  [[maybe_unused]] const void* chosen = d.template select<T>(B, T_, C, n_head, false, {dy, qkv, y, lse, dqkv});
#if TANDEM_HAVE_CUDNN_HEADERS
  if (chosen) {
    const auto& plan = *static_cast<const detail::SdpaPlan*>(chosen);
    void* ws = d.workspace_for(plan);
    d.set_stream(stream);
    plan.run_backward(d.handle, dy, qkv, y, lse, dqkv, ws);
    return;
  }
#endif
  lock.unlock();
  attention_backward(dy, qkv, y, lse, dqkv, B, T_, C, n_head, stream);
}

template void attention_forward<float>(Attention&, const float*, float*, float*, int64_t, int64_t, int64_t, int64_t,
                                       cudaStream_t);
template void attention_forward<bf16>(Attention&, const bf16*, bf16*, float*, int64_t, int64_t, int64_t, int64_t,
                                      cudaStream_t);
template void attention_backward<float>(Attention&, const float*, const float*, const float*, const float*, float*,
                                        int64_t, int64_t, int64_t, int64_t, cudaStream_t);
template void attention_backward<bf16>(Attention&, const bf16*, const bf16*, const bf16*, const float*, bf16*, int64_t,
                                       int64_t, int64_t, int64_t, cudaStream_t);

}  // namespace tandem::cuda
