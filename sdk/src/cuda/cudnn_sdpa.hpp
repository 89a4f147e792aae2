// Internal to tandem_cuda: causal attention as cuDNN 9 backend graphs, the pattern its fused flash
// attention engines match (the one NVIDIA's cudnn-frontend builds for its SDPA nodes, written here
// against the C backend API since the frontend's headers are not part of cuDNN):
//
//   forward  S = Q K^T * scale, masked where key > query (-inf), softmax with Stats = max + log(sum
//            exp) (natural log: tandem's lse), O = softmax(S) V;
//   backward P = exp(Q K^T * scale - Stats) masked, D = rowsum(dO * O), dV = P^T dO,
//            dS = P * (dO V^T - D) * scale, dK = dS^T Q, dQ = dS K.
//
// The backward writes dQ straight from its product (no fp32 dQ accumulator that blocks add into
// with atomics), which is how the frontend asks for the deterministic backward on Hopper; configs
// whose engine carries CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC are refused as well.
//
// Tensors are GPT-2's fused layout, no transposes: q/k/v of head h at columns 0/C/2C + h*hd of a
// row of 3C, given to cuDNN as [B, H, T, hd] with strides [T*3C, hd, 3C, 1] (K and V as their
// transposes [B, H, hd, T] where the pattern wants them), y and dy [B, H, T, hd] with strides
// [T*C, hd, C, 1], lse [B, H, T, 1] packed, dq/dk/dv written into dqkv with qkv's strides.
#pragma once

#if TANDEM_HAVE_CUDNN_HEADERS

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cudnn_library.hpp"

namespace tandem::cuda::detail {

struct SdpaShape {
  int64_t B, T, C, H;
  int64_t hd() const { return C / H; }
  std::string str() const;  // "B=16 T=1024 C=768 H=12"
};

enum class SdpaDirection { forward, backward };

// A backend descriptor, destroyed with its owner.
class CudnnDescriptor {
 public:
  CudnnDescriptor(const CudnnLibrary& lib, cudnnBackendDescriptorType_t type, const char* what);
  ~CudnnDescriptor();
  CudnnDescriptor(CudnnDescriptor&& o) noexcept;
  CudnnDescriptor& operator=(CudnnDescriptor&&) = delete;
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  cudnnBackendDescriptor_t get() const { return d_; }

 private:
  const CudnnLibrary* lib_;
  cudnnBackendDescriptor_t d_ = nullptr;
};

// One direction's graph for one shape, with the execution plan cuDNN's heuristics chose for it.
class SdpaPlan {
 public:
  // Builds the operation graph, asks the heuristics (mode A, then the fallback list) and finalizes
  // the first deterministic engine config that finalizes. Each step is appended to *log (what was
  // called, the status, how many configs came back, why each refused one was refused). Throws
  // CudnnError (the call, status and cuDNN's text) or Error (no usable config, with the reasons).
  static std::unique_ptr<SdpaPlan> build(const CudnnLibrary& lib, cudnnHandle_t handle, const SdpaShape& shape,
                                         SdpaDirection direction, std::vector<std::string>& log);
  ~SdpaPlan();

  // Device bytes a run needs in `workspace` (cuDNN's own, plus the backward's row sums of dO * O).
  size_t workspace_bytes() const;

  // Queue one run on the handle's stream. Pointers: bf16 device memory, 16-byte aligned.
  void run_forward(cudnnHandle_t handle, const void* qkv, void* y, float* lse, void* workspace) const;
  void run_backward(cudnnHandle_t handle, const void* dy, const void* qkv, const void* y, const float* lse,
                    void* dqkv, void* workspace) const;

  struct Graph;

 private:
  SdpaPlan(const CudnnLibrary& lib, const SdpaShape& shape, SdpaDirection direction);
  void execute(cudnnHandle_t handle, const std::vector<int64_t>& uids, const std::vector<void*>& pointers,
               void* workspace) const;

  const CudnnLibrary& lib_;
  SdpaShape shape_;
  SdpaDirection direction_;
  std::unique_ptr<Graph> graph_;  // the descriptors the plan was built from, kept for its lifetime
  std::unique_ptr<CudnnDescriptor> config_;  // the engine config the plan was finalized from
  std::unique_ptr<CudnnDescriptor> plan_;
  int64_t cudnn_workspace_ = 0;
  // Values passed by value (the variant pack points at host memory for them): they live here.
  float scale_ = 0, negative_infinity_ = 0, one_ = 1;
};

}  // namespace tandem::cuda::detail

#endif  // TANDEM_HAVE_CUDNN_HEADERS
