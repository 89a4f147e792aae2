// A stage's memory on one GPU: the tandem_memory_ops table (tandem/memory.h) for a device and the
// stream a rank computes on. The host makes one per rank of a GPU run and hands its table to the
// stage; the stage never sees CUDA.
//
//   allocate / release        cudaMallocAsync + zeroing / cudaFreeAsync, on the stream (the device's
//                             default memory pool, kept rather than returned to the driver at every
//                             synchronisation: stages allocate per layer and per step)
//   allocate_host             pinned host memory (cudaHostAlloc), zeroed
//   copy, fill_zero, add, round, to/from_working   queued on the stream (tandem/cuda/memory_ops.hpp)
//   square_sum, synchronize   synchronous
//   copy_async / wait_copy    a second stream for copies, each ordered after the main stream's work so
//                             far by an event and given a ticket (an event of its own); thread-safe.
//                             Tickets stay valid until the next join_copies.
//   side_begin / side_end     a third stream: the calls in between are queued there (after an event on
//   join_side                 the main stream), and the listener (on_stream_switch) hears of each
//                             switch so that the rank's communicator queues its collectives there too;
//                             join_side makes the main stream wait for it.
#pragma once

#include <functional>
#include <memory>

#include "tandem/cuda/runtime.hpp"
#include "tandem/memory.h"

namespace tandem::cuda {

class DeviceMemory {
 public:
  // `stream` is the rank's (not owned; it outlives this object). Makes the copy stream.
  DeviceMemory(int device, cudaStream_t stream);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  const tandem_memory_ops* table() const;
  // Called with the stream collectives are to use from now on, at side_begin and side_end (the
  // host points the rank's communicator at it). Set before the table is handed out.
  void on_stream_switch(std::function<void(cudaStream_t)> listener);

  // The copy fence, for a host that queues other device work while an offloaded step runs on the
  // host (Engine's during_step: the next teacher forward). fence_copies() marks the main stream where
  // it is now; until lift_copy_fence(), copy_async waits for the main stream only up to that mark, not
  // for what is queued after it. Sound only while nothing queued on the main stream after the mark
  // writes what those copies read or touches what they write: the host's own work between the two
  // calls uses other memory, and a stage's step copies only what it wrote before the step (the
  // gradient shard down, host memory up). Not nested.
  void fence_copies();
  void lift_copy_fence();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A CUDA stream that destroys itself (non-blocking with respect to the legacy default stream).
class Stream {
 public:
  explicit Stream(int device);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void synchronize() const;  // rethrows a kernel's fault

 private:
  cudaStream_t stream_ = nullptr;
};

// Makes `device` current on the calling thread (each rank thread and each helper thread that
// touches the device).
void set_device(int device);

}  // namespace tandem::cuda
