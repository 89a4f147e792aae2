// All of a model's parameters resident on one GPU: the device twin of compute::ResidentParams, and
// what ZeRO-0 keeps on one GPU (benchmarks, the GPU model tests, the model checks).
//
// Per parameter, in flat device buffers: the fp32 master, the working copy of type T that the model
// reads (for T = float the master itself), the fp32 gradient the model adds into, and AdamW's two
// moments. adamw_step() runs the fused device AdamW (tandem/cuda/adamw.hpp: DeepSpeed's rule, the
// constants of tandem/adam_constants.hpp) over every parameter and, for T = bf16, writes the
// rounded working copy in the same pass. Parameters flagged no_weight_decay get weight decay 0 (the
// conventional grouping: biases and norms).
#pragma once

#include <cstdint>
#include <vector>

#include "tandem/compute/param_access.hpp"
#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda {

struct AdamHparams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool adam_w_mode = true, bias_correction = true;
};

template <class T>  // float or bf16
class ResidentParams final : public compute::ParamAccess {
 public:
  ResidentParams(std::vector<compute::ParamInfo> infos, cudaStream_t stream);

  std::span<const compute::ParamInfo> infos() const noexcept { return infos_; }
  int64_t numel() const noexcept { return total_; }
  // Parameter i from its full fp32 value on the host (the master and the rounded working copy).
  void set_param(size_t i, const float* host_values);
  // Parameter i's fp32 master, and its accumulated gradient, copied to the host.
  std::vector<float> master(size_t i) const;
  std::vector<float> grad(size_t i) const;
  void zero_grads();
  // One AdamW step over every parameter (step is 1-based), gradients times grad_scale first.
  void adamw_step(int64_t step, const AdamHparams& h, double grad_scale = 1.0);

  std::vector<compute::TensorView> acquire(int layer) override;
  void release(int) override {}
  std::vector<compute::TensorView> acquire_grads(int layer) override;
  void grads_done(int) override {}

 private:
  std::vector<compute::TensorView> views(void* base, compute::DType dtype, int layer) const;

  std::vector<compute::ParamInfo> infos_;
  std::vector<int64_t> offsets_;
  std::vector<std::vector<size_t>> by_layer_;
  int64_t total_ = 0;
  cudaStream_t stream_;
  DeviceArray<float> master_, grads_, m_, v_;
  DeviceArray<T> working_;  // empty for T = float: the master is the working copy
};

}  // namespace tandem::cuda
