// make_gpu_model (gpt_gpu.hpp).
#include "gpt_gpu.hpp"

#include "gpt_cuda_model.hpp"
#include "tandem/cuda/device_memory.hpp"
#include "tandem/module.hpp"

namespace tandem::gpt {

namespace {

template <class Working>
class GpuModelOf final : public GpuModel {
 public:
  GpuModelOf(const GptConfig& cfg, cudaStream_t stream) : model_(cfg, stream) {}
  compute::TensorView forward(compute::ParamAccess& access, const int32_t* host_tokens, int64_t B, int64_t T,
                              bool train) override {
    return model_.forward(access, host_tokens, B, T, train);
  }
  void backward(compute::ParamAccess& access, const void* dlogits) override {
    model_.backward(access, static_cast<const Working*>(dlogits));
  }

 private:
  GptCudaModel<Working> model_;
};

}  // namespace

std::unique_ptr<GpuModel> make_gpu_model(const GptConfig& cfg, const tandem_placement& where, uint32_t dtype) {
  cuda::set_device(where.device_index);
  auto* stream = static_cast<cudaStream_t>(where.stream);
  if (dtype == TANDEM_DTYPE_BF16) return std::make_unique<GpuModelOf<cuda::bf16>>(cfg, stream);
  if (dtype == TANDEM_DTYPE_F32) return std::make_unique<GpuModelOf<float>>(cfg, stream);
  throw sdk::Unsupported("gpt on a GPU computes in fp32 or bf16, not in fp16 (use the \"bf16\" block, or the cpu)");
}

}  // namespace tandem::gpt
