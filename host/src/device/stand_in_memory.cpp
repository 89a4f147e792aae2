// A stand-in GPU's memory (tandem/stand_in_memory.hpp).
#include "tandem/stand_in_memory.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tandem/memory.hpp"

namespace tandem {

StandInMemory::StandInMemory() {
  ops_ = *sdk::host_memory_ops();  // element operations on host memory: what this "device" holds
  ops_.ctx = this;
  ops_.where = tandem_placement{sizeof(tandem_placement), TANDEM_DEVICE_CUDA, 0, nullptr};
  ops_.allocate = &allocate;
  ops_.release = &release;
  ops_.copy_async = &copy_async;
  ops_.wait_copy = &wait_copy;
  ops_.join_copies = &join_copies;
  ops_.copy = &copy;
  ops_.fill_zero = &fill_zero;
  ops_.add = &add;
  ops_.round = &round;
  ops_.to_working = &to_working;
  ops_.from_working = &from_working;
  ops_.square_sum = &square_sum;
  ops_.side_begin = &side_begin;
  ops_.side_end = &side_end;
  ops_.join_side = &join_side;
}

StandInMemory::~StandInMemory() {
  for (auto& [p, bytes] : allocations_) std::free(const_cast<char*>(p));
}

bool StandInMemory::owns(const void* p, size_t bytes) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto* c = static_cast<const char*>(p);
  auto it = allocations_.upper_bound(c);
  if (it == allocations_.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

size_t StandInMemory::pending_copies() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

tandem_status StandInMemory::allocate(void* ctx, size_t bytes, void** out, tandem_error* err) {
  return sdk::guard(err, [&] {
    *out = nullptr;
    if (bytes == 0) return;
    *out = std::calloc(1, bytes);
    if (*out == nullptr) throw std::bad_alloc();
    const std::lock_guard<std::mutex> lock(self(ctx).mutex_);
    self(ctx).allocations_[static_cast<const char*>(*out)] = bytes;
  });
}

void StandInMemory::release(void* ctx, void* p) {
  if (p == nullptr) return;
  {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    const auto it = d.allocations_.find(static_cast<const char*>(p));
    const char* begin = static_cast<const char*>(p);
    const char* end = it != d.allocations_.end() ? begin + it->second : begin + 1;
    auto& uses = d.side_uses_;
    if (d.on_side_) {  // side-queued scratch freed on the side queue: its address may come back
      std::erase_if(uses, [&](const SideUse& u) { return u.begin >= begin && u.end <= end; });
    } else if (d.violation_.empty()) {
      for (const SideUse& u : uses)
        if (u.begin < end && begin < u.end) {
          d.violation_ = std::string("stand-in GPU: release on the main stream of memory that side-queued ") +
                         u.call + " uses, before join_side";
          break;
        }
    }
    d.allocations_.erase(begin);
  }
  std::free(p);
}

std::string StandInMemory::violation() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return violation_;
}

bool StandInMemory::side_pending(const void* p, size_t bytes) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const char* begin = static_cast<const char*>(p);
  for (const SideUse& u : side_uses_)
    if (u.begin < begin + bytes && begin < u.end) return true;
  return false;
}

void StandInMemory::check_no_violation() const {
  if (!violation_.empty()) throw std::logic_error(violation_);
}

void StandInMemory::touch(const char* call, const void* p, size_t bytes, bool writes) {
  check_no_violation();
  if (bytes == 0) return;
  const char* begin = static_cast<const char*>(p);
  if (on_side_) {
    side_uses_.push_back(SideUse{begin, begin + bytes, writes, call});
    return;
  }
  for (const SideUse& u : side_uses_)
    if ((writes || u.writes) && u.begin < begin + bytes && begin < u.end)
      throw std::logic_error(std::string("stand-in GPU: ") + call + " on the main stream " +
                             (writes ? "writes" : "reads") + " memory that side-queued " + u.call + " " +
                             (u.writes ? "writes" : "reads") + ", before join_side");
}

// The element operations: the host's, after the side-queue check of what each reads and writes.
template <class HostCall>
tandem_status StandInMemory::checked(void* ctx, tandem_error* err, std::initializer_list<Access> accesses,
                                     HostCall&& host_call) {
  return sdk::guard(err, [&] {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    for (const Access& a : accesses) d.touch(a.call, a.p, a.bytes, a.writes);
    sdk::call_checked([&](tandem_error* e) { return host_call(sdk::host_memory_ops(), e); });
  });
}

tandem_status StandInMemory::copy(void* ctx, void* dst, const void* src, size_t bytes, tandem_error* err) {
  return checked(ctx, err, {{"copy", src, bytes, false}, {"copy", dst, bytes, true}},
                 [&](const tandem_memory_ops* h, tandem_error* e) { return h->copy(nullptr, dst, src, bytes, e); });
}
tandem_status StandInMemory::fill_zero(void* ctx, void* dst, size_t bytes, tandem_error* err) {
  return checked(ctx, err, {{"fill_zero", dst, bytes, true}},
                 [&](const tandem_memory_ops* h, tandem_error* e) { return h->fill_zero(nullptr, dst, bytes, e); });
}
tandem_status StandInMemory::add(void* ctx, float* dst, const float* src, size_t n, tandem_error* err) {
  return checked(ctx, err, {{"add", src, n * sizeof(float), false}, {"add", dst, n * sizeof(float), true}},
                 [&](const tandem_memory_ops* h, tandem_error* e) { return h->add(nullptr, dst, src, n, e); });
}
tandem_status StandInMemory::round(void* ctx, float* data, size_t n, uint32_t dtype, tandem_error* err) {
  return checked(ctx, err, {{"round", data, n * sizeof(float), true}},
                 [&](const tandem_memory_ops* h, tandem_error* e) { return h->round(nullptr, data, n, dtype, e); });
}
// The stand-in stores working values as fp32 words (the CPU's storage).
tandem_status StandInMemory::to_working(void* ctx, void* dst, const float* src, size_t n, uint32_t dtype,
                                        tandem_error* err) {
  return checked(ctx, err,
                 {{"to_working", src, n * sizeof(float), false}, {"to_working", dst, n * sizeof(float), true}},
                 [&](const tandem_memory_ops* h, tandem_error* e) {
                   return h->to_working(nullptr, dst, src, n, dtype, e);
                 });
}
tandem_status StandInMemory::from_working(void* ctx, float* dst, const void* src, size_t n, uint32_t dtype,
                                          tandem_error* err) {
  return checked(ctx, err,
                 {{"from_working", src, n * sizeof(float), false}, {"from_working", dst, n * sizeof(float), true}},
                 [&](const tandem_memory_ops* h, tandem_error* e) {
                   return h->from_working(nullptr, dst, src, n, dtype, e);
                 });
}
tandem_status StandInMemory::square_sum(void* ctx, const float* x, size_t n, uint64_t* words, tandem_error* err) {
  return checked(ctx, err, {{"square_sum", x, n * sizeof(float), false}},
                 [&](const tandem_memory_ops* h, tandem_error* e) { return h->square_sum(nullptr, x, n, words, e); });
}

tandem_status StandInMemory::side_begin(void* ctx, tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    d.check_no_violation();
    if (d.on_side_) throw std::logic_error("side_begin: already on the side queue (not nested)");
    d.on_side_ = true;
  });
}
tandem_status StandInMemory::side_end(void* ctx, tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    if (!d.on_side_) throw std::logic_error("side_end: not on the side queue");
    d.on_side_ = false;
  });
}
tandem_status StandInMemory::join_side(void* ctx, tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    d.check_no_violation();
    d.side_uses_.clear();
  });
}

tandem_status StandInMemory::copy_async(void* ctx, void* dst, const void* src, size_t bytes, uint64_t* ticket,
                                        tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    d.touch("copy_async", src, bytes, false);  // it starts after the main stream's work so far
    d.touch("copy_async", dst, bytes, true);
    std::memset(dst, 0xff, bytes);  // NaN until the copy runs
    d.queue_.push_back(Copy{dst, src, bytes});
    *ticket = d.first_ticket_ + d.queue_.size() - 1;
  });
}

void StandInMemory::run_copies_through(uint64_t ticket) {
  while (!queue_.empty() && first_ticket_ <= ticket) {
    const Copy c = queue_.front();
    std::memcpy(c.dst, c.src, c.bytes);
    queue_.pop_front();
    ++first_ticket_;
  }
}

tandem_status StandInMemory::wait_copy(void* ctx, uint64_t ticket, tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    if (ticket >= d.first_ticket_ + d.queue_.size())
      throw std::invalid_argument("wait_copy: ticket " + std::to_string(ticket) + " was never issued");
    d.run_copies_through(ticket);
  });
}

tandem_status StandInMemory::join_copies(void* ctx, tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
    d.run_copies_through(UINT64_MAX);
  });
}

}  // namespace tandem
