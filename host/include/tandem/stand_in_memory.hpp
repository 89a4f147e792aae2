// A stand-in GPU's memory, for tests of device code paths on machines without a GPU: a
// tandem_memory_ops table (tandem/memory.h) that says it is a CUDA device and keeps its "device"
// memory in host allocations it tracks. Stage modules, optimizers and engines that only use the table
// run unchanged on it, and their GPU paths - buffers only from the table, views that say CUDA, the
// streamed ZeRO-Offload step - run and can be checked against the CPU's results.
//
// It is strict where a GPU is: a copy queued with copy_async runs only when it is waited for
// (wait_copy, join_copies) and its destination reads as NaN until then, so code that reads data
// before its copy is waited for computes NaN instead of the right numbers. Its working storage is
// fp32, as the CPU's (its users compute on the CPU).
//
// Used by `RunDevice::stand_in` engines and by the stage conformance suite (tandem::conformance).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>

#include "tandem/memory.h"

namespace tandem {

class StandInMemory {
 public:
  StandInMemory();
  StandInMemory(const StandInMemory&) = delete;
  StandInMemory& operator=(const StandInMemory&) = delete;
  ~StandInMemory();

  const tandem_memory_ops* table() const { return &ops_; }
  // Whether [p, p + bytes) lies in one live allocation of this memory.
  bool owns(const void* p, size_t bytes) const;
  // Copies queued and not yet run (0 once anything may read their destinations).
  size_t pending_copies() const;

 private:
  struct Copy {
    void* dst;
    const void* src;
    size_t bytes;
  };
  static StandInMemory& self(void* ctx) { return *static_cast<StandInMemory*>(ctx); }
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
  std::deque<Copy> queue_;                     // the copy of ticket first_ticket_ + i
  uint64_t first_ticket_ = 1;
};

}  // namespace tandem
