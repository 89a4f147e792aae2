// What libtandem needs of a GPU, behind an interface that builds without CUDA: the device a process
// rank uses and its stream, a stage's memory on it, the loss on device logits, phase timings, and
// copies of device memory for checkpoints. gpu_cuda.cpp implements it over the CUDA backend where that
// is built (gpu_none.cpp elsewhere: opening a GPU fails saying the build has no CUDA); stand_in_gpu.cpp
// implements it on the CPU for tests of the GPU path (RunDevice::stand_in).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tandem/memory.h"
#include "tandem/tensor.h"

namespace tandem::gpu {

// Whether this libtandem has the CUDA backend, and how many GPUs it can use (0, with why).
bool built_with_cuda();
int device_count(std::string* why = nullptr);

// The classifier's losses on device logits, for one engine rank: cross-entropy against targets
// (host, checked there: a target >= vocab is an error naming the row) and, for distillation, the KL
// against a teacher's device logits, with the gradient written over the logits in the same pass
// (tandem/cuda/classifier.hpp). queue() only queues the kernel and the copy of the rows' losses to
// the host, so the backward can be queued behind it at once; sums() waits for that copy alone.
class Loss {
 public:
  virtual ~Loss() = default;

  struct Request {
    void* logits = nullptr;  // [rows, vocab] of `dtype` on the device; overwritten by the gradient
    uint32_t dtype = TANDEM_DTYPE_F32;
    int64_t rows = 0, vocab = 0;
    const int32_t* targets = nullptr;  // host, rows; < 0 ignored
    const void* teacher = nullptr;     // device logits of the same shape and dtype, or null
    double temperature = 1.0, alpha = 0.5;
    double ce_scale = 0, kl_scale = 0;  // gradient weights (see classifier.hpp)
    bool gradient = true;               // false: losses only, logits left as they are
  };
  struct Sums {
    double ce = 0, kl = 0;  // over rows (ignored rows add 0)
  };
  virtual void queue(const Request& request) = 0;
  virtual Sums sums() = 0;  // of the last queue(); the request's host targets may be gone by then
};

// Elapsed device time between marks queued on the device's stream.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void mark(int index) = 0;
  // Seconds between two marks (waits for the later one).
  virtual double seconds(int from, int to) = 0;
};

// One GPU and the stream this process's rank computes on: every engine of the process queues its
// work there, in program order (a teacher's logits are ready for the student's loss without a
// synchronisation). Made once per process by State.
class Device {
 public:
  // Throws std::runtime_error naming the device, or why there is none.
  static std::shared_ptr<Device> open(int index);
  virtual ~Device() = default;

  virtual int index() const = 0;
  virtual std::string description() const = 0;  // "NVIDIA H200 (sm_90, 132 SMs)"
  virtual tandem_placement placement() const = 0;
  // Makes the device current on the calling thread (the rank threads call this first).
  virtual void bind_thread() const = 0;
  virtual void synchronize() const = 0;
  // A stage's memory on this device (tandem/memory.h), one per stage instance. `on_stream_switch`
  // hears which stream collectives are to be queued on from now on, at the table's side_begin and
  // side_end (the engine points the rank's communicator at it); may be empty.
  class Memory {
   public:
    virtual ~Memory() = default;
    virtual const tandem_memory_ops* table() const = 0;
    // The copy fence (tandem/cuda/device_memory.hpp): between the two calls the table's copies wait
    // for the stream only up to where it was at fence_copies(). Nothing to do where copies are
    // synchronous or run only when waited for (the stand-in GPU).
    virtual void fence_copies() {}
    virtual void lift_copy_fence() {}
  };
  using StreamListener = std::function<void(void* stream)>;
  virtual std::unique_ptr<Memory> memory(StreamListener on_stream_switch) const = 0;
  virtual std::unique_ptr<Loss> loss() const = 0;  // for one engine rank
  virtual std::unique_ptr<Timer> timer(int marks) const = 0;
  // out.size() values of `dtype` (F32, or BF16 widened exactly) at device memory `data`, to the host,
  // after all of the device's work; and fp32 values into device memory. Checkpoints and host_logits.
  virtual void read(const void* data, uint32_t dtype, std::span<float> out) const = 0;
  virtual void write(std::span<const float> values, void* data) const = 0;
  // Device memory this process's allocations use now and at most since reset_peak().
  virtual size_t memory_in_use() const = 0;
  virtual size_t memory_peak() const = 0;
  virtual void reset_peak() const = 0;
};

// The stand-in GPU (RunDevice::stand_in): host memory that says it is a GPU (tandem/stand_in_memory.hpp),
// the CPU's loss on its fp32 logits, host clocks. An engine on it runs the GPU path on the CPU.
std::shared_ptr<Device> stand_in_device();

}  // namespace tandem::gpu
