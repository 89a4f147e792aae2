// The C++ side of tandem/memory.h: Memory wraps a tandem_memory_ops table (failures become
// exceptions), Buffer<T> owns an allocation from it, and host_memory_ops() is the CPU's table, which
// the host passes for CPU runs and a Memory made without a table uses (a stage set up by hand in a
// test, or by a host older than SDK 1.2).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include "tandem/call.hpp"
#include "tandem/grad_norm.hpp"
#include "tandem/memory.h"
#include "tandem/working_precision.hpp"

namespace tandem::sdk {

namespace host_memory_detail {

template <class F>
tandem_status run(tandem_error* err, F&& f) noexcept {
  return guard(err, std::forward<F>(f));
}
inline tandem_status allocate(void*, size_t bytes, void** out, tandem_error* err) {
  return run(err, [&] {
    *out = nullptr;
    if (bytes == 0) return;
    *out = std::calloc(1, bytes);
    if (*out == nullptr) throw std::bad_alloc();
  });
}
inline void release(void*, void* p) { std::free(p); }
inline tandem_status copy(void*, void* dst, const void* src, size_t bytes, tandem_error*) {
  if (bytes != 0) std::memcpy(dst, src, bytes);
  return TANDEM_STATUS_OK;
}
inline tandem_status fill_zero(void*, void* dst, size_t bytes, tandem_error*) {
  if (bytes != 0) std::memset(dst, 0, bytes);
  return TANDEM_STATUS_OK;
}
inline tandem_status add(void*, float* dst, const float* src, size_t n, tandem_error*) {
  for (size_t i = 0; i < n; ++i) dst[i] += src[i];
  return TANDEM_STATUS_OK;
}
inline tandem_status round(void*, float* data, size_t n, uint32_t dtype, tandem_error* err) {
  return run(err, [&] { round_in_place(static_cast<tandem_dtype>(dtype), data, n); });
}
inline uint32_t storage_dtype(void*, uint32_t) { return TANDEM_DTYPE_F32; }  // fp32 words (the CPU kernels' type)
inline tandem_status to_working(void*, void* dst, const float* src, size_t n, uint32_t dtype, tandem_error* err) {
  return run(err, [&] { copy_rounded(static_cast<tandem_dtype>(dtype), src, static_cast<float*>(dst), n); });
}
inline tandem_status from_working(void*, float* dst, const void* src, size_t n, uint32_t, tandem_error*) {
  if (n != 0 && dst != src) std::memcpy(dst, src, n * sizeof(float));
  return TANDEM_STATUS_OK;
}
inline tandem_status square_sum(void*, const float* x, size_t n, uint64_t* words, tandem_error* err) {
  return run(err, [&] {
    ExactSquareSum sum = ExactSquareSum::from_words(std::span<const uint64_t, ExactSquareSum::kWords>(
        words, ExactSquareSum::kWords));
    sum.add(std::span<const float>(x, n));
    const ExactSquareSum::Words out = sum.to_words();
    std::memcpy(words, out.data(), sizeof out);
  });
}
inline tandem_status synchronize(void*, tandem_error*) { return TANDEM_STATUS_OK; }
inline tandem_status copy_async(void*, void* dst, const void* src, size_t bytes, uint64_t* ticket, tandem_error*) {
  if (bytes != 0) std::memcpy(dst, src, bytes);
  *ticket = 0;
  return TANDEM_STATUS_OK;
}
inline tandem_status wait_copy(void*, uint64_t, tandem_error*) { return TANDEM_STATUS_OK; }
inline tandem_status join_copies(void*, tandem_error*) { return TANDEM_STATUS_OK; }
inline tandem_status no_side_queue(void*, tandem_error*) { return TANDEM_STATUS_OK; }  // side_begin/end, join_side

}  // namespace host_memory_detail

// The CPU's table: host allocations, memcpy and loops, everything done on return. A constant.
inline const tandem_memory_ops* host_memory_ops() {
  namespace d = host_memory_detail;
  static constexpr tandem_memory_ops ops = {sizeof(tandem_memory_ops),
                                            nullptr,
                                            tandem_placement{sizeof(tandem_placement), TANDEM_DEVICE_CPU, 0, nullptr},
                                            &d::allocate,
                                            &d::release,
                                            &d::allocate,
                                            &d::release,
                                            &d::copy,
                                            &d::fill_zero,
                                            &d::add,
                                            &d::round,
                                            &d::storage_dtype,
                                            &d::to_working,
                                            &d::from_working,
                                            &d::square_sum,
                                            &d::synchronize,
                                            &d::copy_async,
                                            &d::wait_copy,
                                            &d::join_copies,
                                            &d::no_side_queue,
                                            &d::no_side_queue,
                                            &d::no_side_queue};
  return &ops;
}

// One rank's memory (not owning the table).
class Memory {
 public:
  Memory() : ops_(host_memory_ops()) {}
  explicit Memory(const tandem_memory_ops* ops) : ops_(ops != nullptr ? ops : host_memory_ops()) {}

  const tandem_memory_ops* table() const { return ops_; }
  const tandem_placement& where() const { return ops_->where; }
  bool on_device() const { return ops_->where.device != TANDEM_DEVICE_CPU; }

  void* allocate(size_t bytes) const {
    void* p = nullptr;
    call_checked([&](tandem_error* err) { return ops_->allocate(ops_->ctx, bytes, &p, err); });
    return p;
  }
  void release(void* p) const noexcept { ops_->release(ops_->ctx, p); }
  void* allocate_host(size_t bytes) const {
    void* p = nullptr;
    call_checked([&](tandem_error* err) { return ops_->allocate_host(ops_->ctx, bytes, &p, err); });
    return p;
  }
  void release_host(void* p) const noexcept { ops_->release_host(ops_->ctx, p); }

  void copy(void* dst, const void* src, size_t bytes) const {
    if (bytes == 0) return;
    call_checked([&](tandem_error* err) { return ops_->copy(ops_->ctx, dst, src, bytes, err); });
  }
  void fill_zero(void* dst, size_t bytes) const {
    if (bytes == 0) return;
    call_checked([&](tandem_error* err) { return ops_->fill_zero(ops_->ctx, dst, bytes, err); });
  }
  void add(float* dst, const float* src, size_t n) const {
    if (n == 0) return;
    call_checked([&](tandem_error* err) { return ops_->add(ops_->ctx, dst, src, n, err); });
  }
  void round(float* data, size_t n, tandem_dtype dtype) const {
    if (n == 0 || dtype == TANDEM_DTYPE_F32) return;
    call_checked([&](tandem_error* err) { return ops_->round(ops_->ctx, data, n, dtype, err); });
  }
  tandem_dtype storage_dtype(tandem_dtype working) const {
    return static_cast<tandem_dtype>(ops_->storage_dtype(ops_->ctx, working));
  }
  size_t storage_size(tandem_dtype working) const { return dtype_size(storage_dtype(working)); }
  void to_working(void* dst, const float* src, size_t n, tandem_dtype dtype) const {
    if (n == 0) return;
    call_checked([&](tandem_error* err) { return ops_->to_working(ops_->ctx, dst, src, n, dtype, err); });
  }
  void from_working(float* dst, const void* src, size_t n, tandem_dtype dtype) const {
    if (n == 0) return;
    call_checked([&](tandem_error* err) { return ops_->from_working(ops_->ctx, dst, src, n, dtype, err); });
  }
  // The exact square sum of n device values, merged into `sum`. Synchronous.
  void square_sum(const float* x, size_t n, ExactSquareSum& sum) const {
    ExactSquareSum::Words words{};
    call_checked([&](tandem_error* err) { return ops_->square_sum(ops_->ctx, x, n, words.data(), err); });
    sum.merge(ExactSquareSum::from_words(std::span<const uint64_t, ExactSquareSum::kWords>(words)));
  }
  void synchronize() const {
    call_checked([&](tandem_error* err) { return ops_->synchronize(ops_->ctx, err); });
  }
  uint64_t copy_async(void* dst, const void* src, size_t bytes) const {
    uint64_t ticket = 0;
    call_checked([&](tandem_error* err) { return ops_->copy_async(ops_->ctx, dst, src, bytes, &ticket, err); });
    return ticket;
  }
  void wait_copy(uint64_t ticket) const {
    call_checked([&](tandem_error* err) { return ops_->wait_copy(ops_->ctx, ticket, err); });
  }
  void join_copies() const {
    call_checked([&](tandem_error* err) { return ops_->join_copies(ops_->ctx, err); });
  }

  // The side queue (memory.h, SDK 1.3); nothing on the CPU and under a host without one. Prefer
  // SideQueue below to side_begin/side_end.
  bool has_side_queue() const { return TANDEM_HAS_FIELD(ops_->struct_size, tandem_memory_ops, join_side); }
  void side_begin() const {
    if (has_side_queue()) call_checked([&](tandem_error* err) { return ops_->side_begin(ops_->ctx, err); });
  }
  void side_end() const {
    if (has_side_queue()) call_checked([&](tandem_error* err) { return ops_->side_end(ops_->ctx, err); });
  }
  void join_side() const {
    if (has_side_queue()) call_checked([&](tandem_error* err) { return ops_->join_side(ops_->ctx, err); });
  }

 private:
  const tandem_memory_ops* ops_;
};

// The calls made from its construction to end() go to the side queue. If a call in between throws,
// the destructor returns to the main stream (a failure to do so then is not reported: the error
// already on its way is the one that matters).
class SideQueue {
 public:
  explicit SideQueue(const Memory& memory) : memory_(memory) {
    memory_.side_begin();
    open_ = true;
  }
  void end() {
    if (!open_) return;
    open_ = false;
    memory_.side_end();
  }
  ~SideQueue() {
    if (open_ && memory_.has_side_queue()) {
      tandem_error err{};
      (void)memory_.table()->side_end(memory_.table()->ctx, &err);
    }
  }
  SideQueue(const SideQueue&) = delete;
  SideQueue& operator=(const SideQueue&) = delete;

 private:
  const Memory& memory_;
  bool open_ = false;
};

// An allocation of n elements of T from a Memory, zeroed, freed with it; device memory (or, with
// Where::host, host memory the device copies fast). Move-only.
template <class T>
class Buffer {
 public:
  enum class Where { device, host };
  Buffer() = default;
  Buffer(const Memory& memory, size_t n, Where where = Where::device)
      : memory_(memory), where_(where), n_(n) {
    const size_t bytes = n * sizeof(T);
    p_ = static_cast<T*>(where == Where::device ? memory.allocate(bytes) : memory.allocate_host(bytes));
  }
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept
      : memory_(o.memory_), where_(o.where_), p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      memory_ = o.memory_;
      where_ = o.where_;
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  T* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  size_t bytes() const { return n_ * sizeof(T); }
  void reset() noexcept {
    if (p_ != nullptr) {
      if (where_ == Where::device)
        memory_.release(p_);
      else
        memory_.release_host(p_);
    }
    p_ = nullptr;
    n_ = 0;
  }

 private:
  Memory memory_;
  Where where_ = Where::device;
  T* p_ = nullptr;
  size_t n_ = 0;
};

// fp32 values from the host, readable in `memory`: `host` itself on the CPU; on a device, a copy
// kept in `holder` (the values go up once, then device work reads them).
inline const float* from_host(const Memory& memory, const float* host, size_t n, Buffer<float>& holder) {
  if (!memory.on_device()) return host;
  holder = Buffer<float>(memory, n);
  memory.copy(holder.data(), host, n * sizeof(float));
  return holder.data();
}

// n working values of `dtype` at `working` in `memory`, widened to fp32 into host `out`. Synchronous.
inline void working_to_host(const Memory& memory, float* out, const void* working, size_t n, tandem_dtype dtype) {
  if (!memory.on_device()) return memory.from_working(out, working, n, dtype);
  Buffer<float> widened(memory, n);
  memory.from_working(widened.data(), working, n, dtype);
  memory.copy(out, widened.data(), n * sizeof(float));
  memory.synchronize();
}

}  // namespace tandem::sdk
