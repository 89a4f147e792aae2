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
// The side queue (side_begin .. side_end, join_side) runs its calls at once, but remembers what each
// read and wrote until the next join_side; a main-stream call that writes any of it, or reads what
// it wrote (or a release of it), before that join is the race a GPU would have, and fails naming
// both calls (a release, which cannot fail, makes the next call fail, and violation() says it).
//
// Used by `RunDevice::stand_in` engines and by the stage conformance suite (tandem::conformance).
#pragma once

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <vector>

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
  // Whether side-queued work not yet joined touches [p, p + bytes) (nothing may read it then).
  bool side_pending(const void* p, size_t bytes) const;
  // The first race with the side queue found at a release, or empty.
  std::string violation() const;

 private:
  struct Copy {
    void* dst;
    const void* src;
    size_t bytes;
  };
  struct SideUse {
    const char* begin;
    const char* end;
    bool writes;
    const char* call;
  };
  static StandInMemory& self(void* ctx) { return *static_cast<StandInMemory*>(ctx); }
  void run_copies_through(uint64_t ticket);  // mutex_ held
  // A call's access to [p, p + bytes): recorded on the side queue, checked against it on the main
  // stream (throws std::logic_error). mutex_ held.
  void touch(const char* call, const void* p, size_t bytes, bool writes);
  void check_no_violation() const;  // mutex_ held
  struct Access {
    const char* call;
    const void* p;
    size_t bytes;
    bool writes;
  };
  // The host table's call (host_call(host_memory_ops(), err)) after touch() for each access.
  template <class HostCall>
  static tandem_status checked(void* ctx, tandem_error* err, std::initializer_list<Access> accesses,
                               HostCall&& host_call);

  static tandem_status copy(void* ctx, void* dst, const void* src, size_t bytes, tandem_error* err);
  static tandem_status fill_zero(void* ctx, void* dst, size_t bytes, tandem_error* err);
  static tandem_status add(void* ctx, float* dst, const float* src, size_t n, tandem_error* err);
  static tandem_status round(void* ctx, float* data, size_t n, uint32_t dtype, tandem_error* err);
  static tandem_status to_working(void* ctx, void* dst, const float* src, size_t n, uint32_t dtype,
                                  tandem_error* err);
  static tandem_status from_working(void* ctx, float* dst, const void* src, size_t n, uint32_t dtype,
                                    tandem_error* err);
  static tandem_status square_sum(void* ctx, const float* x, size_t n, uint64_t* words, tandem_error* err);
  static tandem_status side_begin(void* ctx, tandem_error* err);
  static tandem_status side_end(void* ctx, tandem_error* err);
  static tandem_status join_side(void* ctx, tandem_error* err);

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
  bool on_side_ = false;
  std::vector<SideUse> side_uses_;  // since the last join_side
  std::string violation_;
};

}  // namespace tandem
