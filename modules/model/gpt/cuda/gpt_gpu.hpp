// The GPU model behind the `gpt` module's place(): GptCudaModel<float> or <bf16> chosen by the working
// precision at run time, behind one interface, so the module's code stays free of templates and of
// CUDA's headers.
#pragma once

#include <cstdint>
#include <memory>

#include "gpt_config.hpp"
#include "tandem/compute/param_access.hpp"
#include "tandem/compute/tensor.hpp"
#include "tandem/tensor.h"

namespace tandem::gpt {

class GpuModel {
 public:
  virtual ~GpuModel() = default;
  // host_tokens [B, T] on the host; returns device logits of the working type (see GptCudaModel).
  virtual compute::TensorView forward(compute::ParamAccess& access, const int32_t* host_tokens, int64_t B, int64_t T,
                                      bool train) = 0;
  virtual void backward(compute::ParamAccess& access, const void* dlogits) = 0;
};

// On where.device_index, queued on where.stream; dtype TANDEM_DTYPE_F32 (true fp32) or _BF16. Throws
// tandem::sdk::Unsupported for another dtype.
std::unique_ptr<GpuModel> make_gpu_model(const GptConfig& cfg, const tandem_placement& where, uint32_t dtype);

}  // namespace tandem::gpt
