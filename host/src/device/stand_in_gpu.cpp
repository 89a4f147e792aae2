// The stand-in GPU (gpu.hpp, RunDevice::stand_in): the GPU path of the engine on the CPU. Its memory is
// StandInMemory (host allocations that say they are a CUDA device, strict about queued copies), its
// loss is the CPU path's (HostLoss, so an engine on it gives the CPU engine's bits), its timer reads the host clock.
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "device/gpu.hpp"
#include "engine/host_loss.hpp"
#include "tandem/stand_in_memory.hpp"

namespace tandem::gpu {

namespace {

class StandInLoss final : public Loss {
 public:
  void queue(const Request& r) override {
    if (r.dtype != TANDEM_DTYPE_F32) throw std::invalid_argument("the stand-in GPU computes the loss on fp32 logits");
    auto* logits = static_cast<float*>(r.logits);
    HostLoss::Request request;
    request.logits = logits;
    request.targets = r.targets;
    request.teacher = static_cast<const float*>(r.teacher);
    request.rows = r.rows;
    request.vocab = r.vocab;
    request.distill = compute::Distillation{r.temperature, r.alpha};
    request.ce_scale = r.ce_scale;
    request.kl_scale = r.kl_scale;
    const size_t n = static_cast<size_t>(r.rows * r.vocab);
    if (r.gradient) dlogits_.resize(n);
    const HostLoss::Sums sums = loss_.run(request, r.gradient ? dlogits_.data() : nullptr);
    sums_ = Sums{sums.ce, sums.kl};
    if (r.gradient) std::memcpy(logits, dlogits_.data(), n * sizeof(float));  // over the logits, as on a GPU
  }
  Sums sums() override { return sums_; }

 private:
  HostLoss loss_;
  std::vector<float> dlogits_;
  Sums sums_;
};

class HostTimer final : public Timer {
 public:
  explicit HostTimer(int marks) : at_(static_cast<size_t>(marks)) {}
  void mark(int index) override { at_.at(static_cast<size_t>(index)) = std::chrono::steady_clock::now(); }
  double seconds(int from, int to) override {
    return std::chrono::duration<double>(at_.at(static_cast<size_t>(to)) - at_.at(static_cast<size_t>(from))).count();
  }

 private:
  std::vector<std::chrono::steady_clock::time_point> at_;
};

class StandInGpu final : public Device {
 public:
  int index() const override { return 0; }
  std::string description() const override { return "stand-in GPU (host memory)"; }
  tandem_placement placement() const override {
    return tandem_placement{sizeof(tandem_placement), TANDEM_DEVICE_CUDA, 0, nullptr};
  }
  void bind_thread() const override {}
  void synchronize() const override {}

  class StageMemory final : public Memory {
   public:
    const tandem_memory_ops* table() const override { return memory_.table(); }

   private:
    StandInMemory memory_;
  };
  // Its collectives (the local communicator's) are synchronous: no stream to switch.
  std::unique_ptr<Memory> memory(StreamListener) const override { return std::make_unique<StageMemory>(); }
  std::unique_ptr<Loss> loss() const override { return std::make_unique<StandInLoss>(); }
  std::unique_ptr<Timer> timer(int marks) const override { return std::make_unique<HostTimer>(marks); }

  void read(const void* data, uint32_t dtype, std::span<float> out) const override {
    if (dtype != TANDEM_DTYPE_F32) throw std::invalid_argument("the stand-in GPU holds fp32");
    if (!out.empty()) std::memcpy(out.data(), data, out.size_bytes());
  }
  void write(std::span<const float> values, void* data) const override {
    if (!values.empty()) std::memcpy(data, values.data(), values.size_bytes());
  }
  size_t memory_in_use() const override { return 0; }
  size_t memory_peak() const override { return 0; }
  void reset_peak() const override {}
};

}  // namespace

std::shared_ptr<Device> stand_in_device() { return std::make_shared<StandInGpu>(); }

}  // namespace tandem::gpu
