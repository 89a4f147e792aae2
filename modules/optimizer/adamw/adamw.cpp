// adamw: DeepSpeed's Adam/AdamW on the host (the non-offloaded path of "type": "Adam" / "AdamW").
//
// The config's params mirror DeepSpeed's optimizer block (deepspeed/runtime/engine.py,
// _configure_basic_optimizer, and the FusedAdam / DeepSpeedCPUAdam constructors). The host selects
// this module for both "Adam" and "AdamW": DeepSpeed builds AdamW when the type is "AdamW" OR when
// adam_w_mode is true (its default), so the host passes adam_w_mode = true for "AdamW" whatever the
// config says, and the config's adam_w_mode (default true) for "Adam".
//
// State: "exp_avg" and "exp_avg_sq", fp32, one element per shard element. The params and their
// checks are shared with cpu_adamw (../common/adam_params.hpp); the update itself is in
// ../common/adam_kernel.hpp; here are the parameters, the checks and the parallel loop (oneTBB, chunks of
// kGrain elements; the result does not depend on the chunking, see the kernel).
//
// On a GPU (place() with a CUDA device, where this module is built with the CUDA backend): the state
// lives on the device and each group is one launch of the fused kernel (tandem/cuda/adamw.hpp: the same
// rule bit for bit, the same float constants), queued on the stage's stream: FusedAdam's place.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include "../common/adam_kernel.hpp"
#include "../common/adam_params.hpp"
#include "tandem/fork_join_annotation.hpp"
#include "tandem/optimizer.hpp"
#if TANDEM_ADAMW_CUDA
#include "tandem/compute/bf16.hpp"
#include "tandem/cuda/adamw.hpp"
#include "tandem/cuda/device_memory.hpp"
#endif

namespace {

using tandem::sdk::OptimizerGroup;
using tandem::sdk::OptimizerHparams;
using tandem::sdk::OptimizerStep;
using tandem_adamw::Decay;
using tandem_adamw::StepConstants;

// Elements per task: about 0.6 MB of params, grads and state each, enough to hide the scheduling.
constexpr size_t kGrain = 32 * 1024;

class AdamW final : public tandem::sdk::Optimizer {
 public:
  explicit AdamW(const tandem::sdk::Params& p) : Optimizer({"exp_avg", "exp_avg_sq"}), settings_(p) {}

#if TANDEM_ADAMW_CUDA
  uint32_t capabilities() const override { return TANDEM_OPTIMIZER_RUNS_ON_HOST | TANDEM_OPTIMIZER_RUNS_ON_DEVICE; }
  tandem::sdk::StateBuffer state_buffer(uint32_t index) override {
    if (!on_device()) return Optimizer::state_buffer(index);
    if (index > 1) throw std::invalid_argument("state_buffer: index " + std::to_string(index) + " of 2 buffers");
    if (!has_state()) throw std::invalid_argument("state_buffer: init_state() was not called yet");
    return tandem::sdk::StateBuffer{index == 0 ? "exp_avg" : "exp_avg_sq", (index == 0 ? m_ : v_).get(), numel(),
                                    TANDEM_DEVICE_CUDA, where_.device_index};
  }
  void place(const tandem_placement& where) override {
    if (where.device != TANDEM_DEVICE_CPU && where.device != TANDEM_DEVICE_CUDA)
      throw tandem::sdk::Unsupported("adamw: unknown device type");
    where_ = where;
  }
#else
  uint32_t capabilities() const override { return TANDEM_OPTIMIZER_RUNS_ON_HOST; }
#endif

  OptimizerHparams defaults() const override { return settings_.defaults(); }

  void step(const OptimizerStep& s) override {
    for (size_t i = 0; i < s.groups.size(); ++i) {
      const OptimizerGroup& group = s.groups[i];
      tandem_adam::check_hparams("adamw", group.hparams, i);
      if (group.count == 0) continue;
      const OptimizerHparams& h = group.hparams;
      const StepConstants c = tandem_adamw::make_constants(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, s.step,
                                                           settings_.bias_correction,
                                                           settings_.adam_w_mode, s.grad_scale);
#if TANDEM_ADAMW_CUDA
      if (on_device()) {
        device_update(s, group, c);
        continue;
      }
#endif
      if (s.grads.dtype() == TANDEM_DTYPE_BF16)
        update_group(s, group, s.grads.bf16(group.offset, group.count).data(), c);
      else
        update_group(s, group, s.grads.f32(group.offset, group.count).data(), c);
    }
  }

 private:
  template <class Grad>
  void update_group(const OptimizerStep& s, const OptimizerGroup& group, const Grad* grads, const StepConstants& c) {
    const bool bf16_out = !s.params_bf16.empty();
    switch (c.mode) {
      case Decay::None:
        return bf16_out ? run<Grad, Decay::None, true>(s, group, grads, c)
                        : run<Grad, Decay::None, false>(s, group, grads, c);
      case Decay::L2:
        return bf16_out ? run<Grad, Decay::L2, true>(s, group, grads, c)
                        : run<Grad, Decay::L2, false>(s, group, grads, c);
      case Decay::Decoupled:
        return bf16_out ? run<Grad, Decay::Decoupled, true>(s, group, grads, c)
                        : run<Grad, Decay::Decoupled, false>(s, group, grads, c);
    }
  }

  template <class Grad, Decay kMode, bool kWriteBf16>
  void run(const OptimizerStep& s, const OptimizerGroup& group, const Grad* grads, const StepConstants& c) {
    float* const p = s.params.data() + group.offset;
    float* const m = state(0).data() + group.offset;
    float* const v = state(1).data() + group.offset;
    uint16_t* const p16 = kWriteBf16 ? s.params_bf16.data() + group.offset : nullptr;
    tandem::sdk::ForkJoinAnnotation fork_join;  // ThreadSanitizer builds only
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<size_t>(0, group.count, kGrain),
                              [&](const oneapi::tbb::blocked_range<size_t>& r) {
                                tandem::sdk::ForkJoinAnnotation::task_begins();
                                const size_t b = r.begin();
                                tandem_adamw::update_range<Grad, kMode, kWriteBf16>(
                                    r.size(), p + b, grads + b, m + b, v + b, kWriteBf16 ? p16 + b : nullptr, c);
                                fork_join.task_ends();
                              });
    fork_join.joined();
  }

#if TANDEM_ADAMW_CUDA
  bool on_device() const { return where_.device == TANDEM_DEVICE_CUDA; }

  void allocate_state(size_t numel) override {
    if (!on_device()) return Optimizer::allocate_state(numel);
    tandem::cuda::set_device(where_.device_index);
    for (auto* a : {&m_, &v_}) {
      *a = tandem::cuda::DeviceArray<float>(numel);
      tandem::cuda::fill_bytes(a->get(), 0, numel * sizeof(float));
    }
  }

  // One fused launch for the group, on the stage's stream.
  void device_update(const OptimizerStep& s, const OptimizerGroup& group, const StepConstants& c) {
    auto* stream = static_cast<cudaStream_t>(where_.stream);
    const size_t o = group.offset;
    auto* p16 = s.params_bf16.empty() ? nullptr : reinterpret_cast<tandem::cuda::bf16*>(s.params_bf16.data() + o);
    const auto n = static_cast<int64_t>(group.count);
    if (s.grads.dtype() == TANDEM_DTYPE_BF16)
      tandem::cuda::adam_update(s.params.data() + o,
                                reinterpret_cast<const tandem::cuda::bf16*>(s.grads.bf16(o, group.count).data()),
                                m_.get() + o, v_.get() + o, p16, n, c, stream);
    else
      tandem::cuda::adam_update(s.params.data() + o, s.grads.f32(o, group.count).data(), m_.get() + o, v_.get() + o,
                                p16, n, c, stream);
  }

  tandem::cuda::DeviceArray<float> m_, v_;  // the state on the GPU
#endif
  tandem_adam::AdamSettings settings_;
};

}  // namespace

TANDEM_OPTIMIZER_MODULE(adamw, AdamW, "1.0.0",
                        "DeepSpeed Adam/AdamW on the host: fp32, decoupled or L2 weight decay, oneTBB-parallel",
                        tandem_adam::kParams)
