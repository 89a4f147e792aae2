// A stage's memory on one GPU (tandem/cuda/device_memory.hpp): the table's functions, each making the
// device current (an optimizer's tile hooks call copy_async from pool threads) and turning CUDA's
// failures into a status with the message.
#include "tandem/cuda/device_memory.hpp"

#include <cuda_runtime.h>

#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "tandem/cuda/memory_ops.hpp"
#include "tandem/memory.hpp"

namespace tandem::cuda {

namespace {

void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) throw Error("CUDA: " + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

}  // namespace

void set_device(int device) { check(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")"); }

Stream::Stream(int device) {
  set_device(device);
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}
Stream::~Stream() {
  if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
}
void Stream::synchronize() const {
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (a kernel fault surfaces here)");
}

struct DeviceMemory::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;       // where calls are queued: main, or side between side_begin and side_end
  cudaStream_t main = nullptr;         // the rank's
  cudaStream_t side = nullptr;         // ours, for side_begin .. side_end
  std::function<void(cudaStream_t)> on_switch;  // told the stream collectives are to use from now on
  cudaStream_t copy_stream = nullptr;  // ours, for copy_async
  tandem_memory_ops ops{};
  std::mutex mutex;                    // tickets and their events
  std::deque<cudaEvent_t> events;      // the event of ticket first_ticket + i
  cudaEvent_t copy_fence = nullptr;    // while set, what copy_async waits for instead of the main stream
  uint64_t first_ticket = 1;

  static Impl& self(void* ctx) { return *static_cast<Impl*>(ctx); }
  template <class F>
  static tandem_status run(void* ctx, tandem_error* err, F&& f) noexcept {
    return sdk::guard(err, [&] {
      set_device(self(ctx).device);
      f(self(ctx));
    });
  }

  static tandem_status allocate(void* ctx, size_t bytes, void** out, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) {
      *out = nullptr;
      if (bytes == 0) return;
      check(cudaMallocAsync(out, bytes, m.stream), "allocating " + std::to_string(bytes) + " bytes of device memory");
      check(cudaMemsetAsync(*out, 0, bytes, m.stream), "zeroing a new allocation");
    });
  }
  static void release(void* ctx, void* p) {
    if (p == nullptr) return;
    (void)cudaSetDevice(self(ctx).device);
    (void)cudaFreeAsync(p, self(ctx).stream);
  }
  static tandem_status allocate_host(void* ctx, size_t bytes, void** out, tandem_error* err) {
    return run(ctx, err, [&](Impl&) {
      *out = nullptr;
      if (bytes == 0) return;
      check(cudaHostAlloc(out, bytes, cudaHostAllocPortable), "allocating " + std::to_string(bytes) + " bytes of pinned host memory");
      std::memset(*out, 0, bytes);
    });
  }
  static void release_host(void*, void* p) {
    if (p != nullptr) (void)cudaFreeHost(p);
  }
  static tandem_status copy(void* ctx, void* dst, const void* src, size_t bytes, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) { copy_async(dst, src, bytes, m.stream); });
  }
  static tandem_status fill_zero(void* ctx, void* dst, size_t bytes, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) { fill_bytes_async(dst, 0, bytes, m.stream); });
  }
  static tandem_status add(void* ctx, float* dst, const float* src, size_t n, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) { cuda::add(dst, src, static_cast<int64_t>(n), m.stream); });
  }
  static tandem_status round(void* ctx, float* data, size_t n, uint32_t dtype, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) { round_as(data, static_cast<int64_t>(n), dtype, m.stream); });
  }
  static uint32_t storage_dtype(void*, uint32_t dtype) { return dtype; }  // the working type itself
  static tandem_status to_working(void* ctx, void* dst, const float* src, size_t n, uint32_t dtype, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) { to_dtype(dst, src, static_cast<int64_t>(n), dtype, m.stream); });
  }
  static tandem_status from_working(void* ctx, float* dst, const void* src, size_t n, uint32_t dtype,
                                    tandem_error* err) {
    return run(ctx, err, [&](Impl& m) { from_dtype(dst, src, static_cast<int64_t>(n), dtype, m.stream); });
  }
  static tandem_status square_sum(void* ctx, const float* x, size_t n, uint64_t* words, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) {
      using Sum = sdk::ExactSquareSum;
      Sum::Words mine{};
      exact_square_sum(x, static_cast<int64_t>(n), mine.data(), m.stream);
      Sum total = Sum::from_words(std::span<const uint64_t, Sum::kWords>(words, Sum::kWords));
      total.merge(Sum::from_words(std::span<const uint64_t, Sum::kWords>(mine)));
      const Sum::Words out = total.to_words();
      std::memcpy(words, out.data(), sizeof out);
    });
  }
  static tandem_status synchronize(void* ctx, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) {
      check(cudaStreamSynchronize(m.stream), "cudaStreamSynchronize (a kernel fault surfaces here)");
    });
  }
  static tandem_status copy_async_ticket(void* ctx, void* dst, const void* src, size_t bytes, uint64_t* ticket,
                                         tandem_error* err) {
    return run(ctx, err, [&](Impl& m) {
      const std::lock_guard<std::mutex> lock(m.mutex);
      if (m.copy_fence != nullptr && m.stream == m.main)  // the main stream up to the fence
        check(cudaStreamWaitEvent(m.copy_stream, m.copy_fence, 0), "cudaStreamWaitEvent (copy fence)");
      else
        wait_for(m.copy_stream, m.stream);  // what the copy reads is written by then
      cudaEvent_t done = nullptr;
      if (bytes != 0)
        check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, m.copy_stream),
              "cudaMemcpyAsync of " + std::to_string(bytes) + " bytes on the copy stream");
      check(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
      check(cudaEventRecord(done, m.copy_stream), "cudaEventRecord");
      m.events.push_back(done);
      *ticket = m.first_ticket + m.events.size() - 1;
    });
  }
  static tandem_status wait_copy(void* ctx, uint64_t ticket, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) {
      cudaEvent_t event = nullptr;
      {
        const std::lock_guard<std::mutex> lock(m.mutex);
        if (ticket < m.first_ticket || ticket >= m.first_ticket + m.events.size())
          throw std::invalid_argument("wait_copy: ticket " + std::to_string(ticket) + " is not a pending copy's");
        event = m.events[ticket - m.first_ticket];
      }
      check(cudaEventSynchronize(event), "waiting for a copy (a fault surfaces here)");
    });
  }
  // One stream waits for everything queued on another so far.
  static void wait_for(cudaStream_t waiter, cudaStream_t work) {
    cudaEvent_t done = nullptr;
    check(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
    check(cudaEventRecord(done, work), "cudaEventRecord");
    check(cudaStreamWaitEvent(waiter, done, 0), "cudaStreamWaitEvent");
    (void)cudaEventDestroy(done);  // released once the wait is done
  }
  static tandem_status side_begin(void* ctx, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) {
      if (m.stream == m.side) throw std::logic_error("side_begin: already on the side queue (not nested)");
      wait_for(m.side, m.main);
      m.stream = m.side;
      if (m.on_switch) m.on_switch(m.side);
    });
  }
  static tandem_status side_end(void* ctx, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) {
      m.stream = m.main;
      if (m.on_switch) m.on_switch(m.main);
    });
  }
  static tandem_status join_side(void* ctx, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) { wait_for(m.main, m.side); });
  }
  static tandem_status join_copies(void* ctx, tandem_error* err) {
    return run(ctx, err, [&](Impl& m) {
      const std::lock_guard<std::mutex> lock(m.mutex);
      if (m.events.empty()) return;
      check(cudaStreamWaitEvent(m.stream, m.events.back(), 0), "cudaStreamWaitEvent");
      for (cudaEvent_t e : m.events) (void)cudaEventDestroy(e);  // released once recorded work is done
      m.first_ticket += m.events.size();
      m.events.clear();
    });
  }
};

void DeviceMemory::fence_copies() {
  Impl& m = *impl_;
  set_device(m.device);
  const std::lock_guard<std::mutex> lock(m.mutex);
  if (m.copy_fence != nullptr) throw std::logic_error("fence_copies: a copy fence is already set (not nested)");
  check(cudaEventCreateWithFlags(&m.copy_fence, cudaEventDisableTiming), "cudaEventCreate (copy fence)");
  check(cudaEventRecord(m.copy_fence, m.main), "cudaEventRecord (copy fence)");
}

void DeviceMemory::lift_copy_fence() {
  Impl& m = *impl_;
  set_device(m.device);
  const std::lock_guard<std::mutex> lock(m.mutex);
  if (m.copy_fence != nullptr) (void)cudaEventDestroy(m.copy_fence);  // released once the waits are done
  m.copy_fence = nullptr;
}

DeviceMemory::DeviceMemory(int device, cudaStream_t stream) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.device = device;
  m.stream = m.main = stream;
  set_device(device);
  check(cudaStreamCreateWithFlags(&m.copy_stream, cudaStreamNonBlocking), "cudaStreamCreate (copy stream)");
  check(cudaStreamCreateWithFlags(&m.side, cudaStreamNonBlocking), "cudaStreamCreate (side stream)");
  // Keep freed blocks in the device's pool: stages free and allocate again every step.
  cudaMemPool_t pool = nullptr;
  check(cudaDeviceGetDefaultMemPool(&pool, device), "cudaDeviceGetDefaultMemPool");
  uint64_t keep = std::numeric_limits<uint64_t>::max();
  check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep), "cudaMemPoolSetAttribute");
  m.ops = tandem_memory_ops{sizeof(tandem_memory_ops),
                            &m,
                            tandem_placement{sizeof(tandem_placement), TANDEM_DEVICE_CUDA, device, stream},
                            &Impl::allocate,
                            &Impl::release,
                            &Impl::allocate_host,
                            &Impl::release_host,
                            &Impl::copy,
                            &Impl::fill_zero,
                            &Impl::add,
                            &Impl::round,
                            &Impl::storage_dtype,
                            &Impl::to_working,
                            &Impl::from_working,
                            &Impl::square_sum,
                            &Impl::synchronize,
                            &Impl::copy_async_ticket,
                            &Impl::wait_copy,
                            &Impl::join_copies,
                            &Impl::side_begin,
                            &Impl::side_end,
                            &Impl::join_side};
}

DeviceMemory::~DeviceMemory() {
  Impl& m = *impl_;
  (void)cudaSetDevice(m.device);
  (void)cudaStreamSynchronize(m.copy_stream);
  (void)cudaStreamSynchronize(m.side);
  for (cudaEvent_t e : m.events) (void)cudaEventDestroy(e);
  if (m.copy_fence != nullptr) (void)cudaEventDestroy(m.copy_fence);
  (void)cudaStreamDestroy(m.copy_stream);
  (void)cudaStreamDestroy(m.side);
}

void DeviceMemory::on_stream_switch(std::function<void(cudaStream_t)> listener) {
  impl_->on_switch = std::move(listener);
}

const tandem_memory_ops* DeviceMemory::table() const { return &impl_->ops; }

}  // namespace tandem::cuda
