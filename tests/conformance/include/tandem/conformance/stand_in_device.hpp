// A stand-in GPU for the stage conformance suite: a tandem_memory_ops table (tandem/memory.h) that
// says it is a CUDA device and keeps its "device" memory in host allocations it tracks, so that a
// stage's device path - buffers only from the table, views that say CUDA, ZeRO-Offload's streamed
// step - runs and is checked on any machine, with the local communicator's thread-ranks.
//
// It is strict where a GPU is: a copy queued with copy_async runs only when waited for (wait_copy,
// join_copies) and its destination reads as NaN until then, so a stage that reads gradients before
// their chunk arrived, or lets the model see parameters before the uploads are joined, computes NaN
// instead of zero0's numbers. Its working storage is fp32 (the toy model reads fp32), like the CPU's.
// The copies of a step all run, in ticket order, by the time the next pass reads anything.
//
// StandInDeviceOptimizer wraps a host optimizer (adamw) so that it takes a shard on the stand-in
// device: its memory is host memory, so the host optimizer computes on it as it is.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "tandem/memory.h"
#include "tandem/optimizer.h"

namespace tandem::test {

class StandInDevice {
 public:
  StandInDevice();
  StandInDevice(const StandInDevice&) = delete;
  StandInDevice& operator=(const StandInDevice&) = delete;
  ~StandInDevice();

  const tandem_memory_ops* table() const { return &ops_; }
  // Whether [p, p + bytes) lies in one live allocation of this device.
  bool owns(const void* p, size_t bytes) const;
  // Copies queued and not yet run (0 once a pass may read).
  size_t pending_copies() const;

 private:
  struct Copy {
    void* dst;
    const void* src;
    size_t bytes;
  };
  static StandInDevice& self(void* ctx) { return *static_cast<StandInDevice*>(ctx); }
  void run_copies_through(uint64_t ticket);  // mutex_ held

  static tandem_status allocate(void* ctx, size_t bytes, void** out, tandem_error* err);
  static void release(void* ctx, void* p);
  static tandem_status copy_async(void* ctx, void* dst, const void* src, size_t bytes, uint64_t* ticket,
                                  tandem_error* err);
  static tandem_status wait_copy(void* ctx, uint64_t ticket, tandem_error* err);
  static tandem_status join_copies(void* ctx, tandem_error* err);

  tandem_memory_ops ops_{};
  mutable std::mutex mutex_;
  std::map<const char*, size_t> allocations_;  // start -> bytes
  std::deque<Copy> queue_;                     // ticket first_ticket_ + i
  uint64_t first_ticket_ = 1;
};

// A host optimizer's instance, presented as one that also runs on the stand-in device.
class StandInDeviceOptimizer {
 public:
  StandInDeviceOptimizer(void* instance, const tandem_optimizer_vtable* vtable);
  void* instance() { return this; }
  const tandem_optimizer_vtable* vtable() const { return &table_; }

 private:
  static StandInDeviceOptimizer& self(const void* p) {
    return *static_cast<StandInDeviceOptimizer*>(const_cast<void*>(p));
  }
  void* inner_;
  const tandem_optimizer_vtable* inner_vt_;
  tandem_optimizer_vtable table_{};
};

}  // namespace tandem::test
