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
    const std::lock_guard<std::mutex> lock(self(ctx).mutex_);
    self(ctx).allocations_.erase(static_cast<const char*>(p));
  }
  std::free(p);
}

tandem_status StandInMemory::copy_async(void* ctx, void* dst, const void* src, size_t bytes, uint64_t* ticket,
                                        tandem_error* err) {
  return sdk::guard(err, [&] {
    StandInMemory& d = self(ctx);
    const std::lock_guard<std::mutex> lock(d.mutex_);
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
