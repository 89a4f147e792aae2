// The GPU interface (gpu.hpp) over the CUDA backend (tandem::cuda).
#include <cstring>
#include <stdexcept>
#include <string>

#include "device/gpu.hpp"
#include "tandem/compute/bf16.hpp"
#include "tandem/cuda/classifier.hpp"
#include "tandem/cuda/device_memory.hpp"
#include "tandem/cuda/runtime.hpp"

namespace tandem::gpu {

namespace {

std::unique_ptr<Loss> make_loss(const Device& device);
std::unique_ptr<Timer> make_timer(const Device& device, int marks);

class CudaDevice final : public Device {
 public:
  explicit CudaDevice(int index) : index_(index), stream_(index), description_(describe(index)) {}

  int index() const override { return index_; }
  std::string description() const override { return description_; }
  tandem_placement placement() const override {
    return tandem_placement{sizeof(tandem_placement), TANDEM_DEVICE_CUDA, index_, stream_.get()};
  }
  void bind_thread() const override { cuda::set_device(index_); }
  void synchronize() const override { stream_.synchronize(); }

  class StageMemory final : public Memory {
   public:
    StageMemory(int index, cudaStream_t stream, const StreamListener& listener) : memory_(index, stream) {
      if (listener) memory_.on_stream_switch([listener](cudaStream_t s) { listener(s); });
    }
    const tandem_memory_ops* table() const override { return memory_.table(); }
    void fence_copies() override { memory_.fence_copies(); }
    void lift_copy_fence() override { memory_.lift_copy_fence(); }

   private:
    cuda::DeviceMemory memory_;
  };
  std::unique_ptr<Memory> memory(StreamListener on_stream_switch) const override {
    return std::make_unique<StageMemory>(index_, stream_.get(), on_stream_switch);
  }
  std::unique_ptr<Loss> loss() const override { return make_loss(*this); }
  std::unique_ptr<Timer> timer(int marks) const override { return make_timer(*this, marks); }

  void read(const void* data, uint32_t dtype, std::span<float> out) const override {
    if (out.empty()) return;
    bind_thread();
    cuda::synchronize();  // whatever stream last wrote it
    if (dtype == TANDEM_DTYPE_F32) return cuda::copy_to_host(out.data(), data, out.size_bytes());
    if (dtype != TANDEM_DTYPE_BF16) throw std::invalid_argument("reading GPU memory: fp32 or bf16 only");
    std::vector<compute::bf16> bits(out.size());
    cuda::copy_to_host(bits.data(), data, bits.size() * sizeof(compute::bf16));
    for (size_t i = 0; i < out.size(); ++i) out[i] = compute::to_float(bits[i]);
  }
  void write(std::span<const float> values, void* data) const override {
    if (values.empty()) return;
    bind_thread();
    cuda::synchronize();
    cuda::copy_to_device(data, values.data(), values.size_bytes());
  }

  size_t memory_in_use() const override {
    bind_thread();
    return cuda::pool_usage().used;
  }
  size_t memory_peak() const override {
    bind_thread();
    return cuda::pool_usage().peak;
  }
  void reset_peak() const override {
    bind_thread();
    cuda::reset_pool_peak();
  }

 private:
  static std::string describe(int index) {
    cuda::set_device(index);
    return cuda::device_description();
  }

  int index_;
  cuda::Stream stream_;
  std::string description_;
};

class CudaLoss final : public Loss {
 public:
  explicit CudaLoss(const Device& device) : device_(device) {}

  void queue(const Request& r) override {
    const size_t rows = static_cast<size_t>(r.rows);
    for (size_t i = 0; i < rows; ++i)
      if (r.targets[i] >= r.vocab)
        throw std::invalid_argument("cross-entropy: target " + std::to_string(r.targets[i]) + " of row " +
                                    std::to_string(i) + " is outside the vocabulary of " + std::to_string(r.vocab));
    if (host_.size() < 2 * rows) host_ = cuda::HostArray<float>(2 * rows);
    if (targets_.size() < rows) targets_ = cuda::DeviceArray<int32_t>(rows);
    if (losses_.size() < 2 * rows) losses_ = cuda::DeviceArray<float>(2 * rows);
    cudaStream_t stream = static_cast<cudaStream_t>(device_.placement().stream);
    cuda::copy_async(targets_.get(), r.targets, rows * sizeof(int32_t), stream);

    cuda::ClassifierLoss loss;
    loss.targets = targets_.get();
    loss.teacher = r.teacher;
    loss.temperature = static_cast<float>(r.temperature);
    loss.alpha = static_cast<float>(r.alpha);
    loss.ce_scale = static_cast<float>(r.ce_scale);
    loss.kl_scale = static_cast<float>(r.kl_scale);
    float* ce = losses_.get();
    float* kl = r.teacher != nullptr ? losses_.get() + rows : nullptr;
    if (r.dtype == TANDEM_DTYPE_BF16) {
      auto* z = static_cast<cuda::bf16*>(r.logits);
      cuda::classifier_loss(z, r.gradient ? z : nullptr, ce, kl, r.rows, r.vocab, loss, stream);
    } else if (r.dtype == TANDEM_DTYPE_F32) {
      auto* z = static_cast<float*>(r.logits);
      cuda::classifier_loss(z, r.gradient ? z : nullptr, ce, kl, r.rows, r.vocab, loss, stream);
    } else {
      throw std::invalid_argument("the loss on a GPU takes fp32 or bf16 logits");
    }
    rows_ = rows;
    with_kl_ = kl != nullptr;
    cuda::copy_async(host_.get(), losses_.get(), (with_kl_ ? 2 : 1) * rows * sizeof(float), stream);
    done_.record(stream);
  }

  Sums sums() override {
    done_.synchronize();  // the row losses only: the backward queued after them may still run
    Sums sums;
    for (size_t i = 0; i < rows_; ++i) sums.ce += host_.get()[i];
    if (with_kl_)
      for (size_t i = 0; i < rows_; ++i) sums.kl += host_.get()[rows_ + i];
    return sums;
  }

 private:
  const Device& device_;
  cuda::DeviceArray<int32_t> targets_;
  cuda::DeviceArray<float> losses_;  // ce rows, then kl rows
  cuda::HostArray<float> host_;      // their copies, pinned
  cuda::Event done_;                 // after the copy of the last queue()
  size_t rows_ = 0;
  bool with_kl_ = false;
};

class CudaTimer final : public Timer {
 public:
  CudaTimer(const Device& device, int marks)
      : stream_(static_cast<cudaStream_t>(device.placement().stream)), events_(static_cast<size_t>(marks)) {}
  void mark(int index) override { events_.at(static_cast<size_t>(index)).record(stream_); }
  double seconds(int from, int to) override {
    return events_.at(static_cast<size_t>(to)).milliseconds_since(events_.at(static_cast<size_t>(from))) * 1e-3;
  }

 private:
  cudaStream_t stream_;
  std::vector<cuda::Event> events_;
};

std::unique_ptr<Loss> make_loss(const Device& device) { return std::make_unique<CudaLoss>(device); }
std::unique_ptr<Timer> make_timer(const Device& device, int marks) { return std::make_unique<CudaTimer>(device, marks); }

}  // namespace

bool built_with_cuda() { return true; }
int device_count(std::string* why) { return cuda::device_count(why); }

std::shared_ptr<Device> Device::open(int index) {
  std::string why;
  const int n = cuda::device_count(&why);
  if (n == 0) throw std::runtime_error("no GPU to run on: " + why);
  if (index < 0 || index >= n)
    throw std::runtime_error("GPU " + std::to_string(index) + " does not exist (this machine has " + std::to_string(n) +
                             "; LOCAL_RANK picks the GPU of a process)");
  return std::make_shared<CudaDevice>(index);
}

}  // namespace tandem::gpu
