// The CUDA backend's host side, for code compiled by the C++ compiler alone: launchers take device
// pointers, sizes and a stream, and nothing here needs CUDA's headers. cudaStream_t is declared as
// CUDA's driver_types.h declares it (a pointer to the opaque CUstream_st), so the two agree where
// both are included; nullptr is the legacy default stream.
//
// Errors: every CUDA or cuBLASLt failure throws tandem::cuda::Error naming the call or kernel, the
// sizes involved and CUDA's own message. Kernel launches are checked at launch; a fault that
// happens later while the kernel runs surfaces at the next synchronising call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;  // as driver_types.h: a redeclaration there is the same type

// bf16 buffers are passed as tandem::compute::bf16 (tandem/compute/bf16.hpp, 16 bits of storage);
// declared here only, because that header is C++20 and the .cu files are compiled as C++17.
namespace tandem::compute {
struct bf16;
}

namespace tandem::cuda {

using compute::bf16;  // on the device it is read as __nv_bfloat16: the same bits

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Number of usable devices; 0 where there is no GPU or no driver (the build machine: cudart reports
// "driver version is insufficient"), with the reason in *why when given. Never throws.
int device_count(std::string* why = nullptr) noexcept;

// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" for the current device.
std::string device_description();

void* device_malloc(size_t bytes);  // throws Error (naming the size) when the device is out of memory
void device_free(void* p) noexcept;
// Device memory in use by this process's allocations (device_malloc's and the stages'
// stream-ordered ones: the device's default memory pool), now and at most since reset_pool_peak():
// what torch.cuda.memory_allocated / max_memory_allocated report for PyTorch.
struct PoolUsage {
  size_t used = 0, peak = 0;
};
PoolUsage pool_usage();
void reset_pool_peak();
void copy_to_device(void* dst, const void* src, size_t bytes);  // synchronous
void copy_to_host(void* dst, const void* src, size_t bytes);    // synchronous
void fill_bytes(void* dst, int byte, size_t bytes);              // synchronous memset
void synchronize();                                              // the device; rethrows a kernel's fault
// Stream-ordered: queued on `stream` behind the work already there (device to device, or memset).
void copy_async(void* dst, const void* src, size_t bytes, cudaStream_t stream);
void fill_bytes_async(void* dst, int byte, size_t bytes, cudaStream_t stream);

// Elapsed device time between points of a stream, for per-phase timings: record() queues a mark;
// milliseconds_since(earlier) waits for this mark and returns the time between the two.
class Event {
 public:
  Event();
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(cudaStream_t stream);
  void synchronize() const;  // waits for the work before the mark
  float milliseconds_since(const Event& earlier) const;

 private:
  struct CUevent_st* event_ = nullptr;
};

// Bytes of device memory in use now on the current device, by every process (cudaMemGetInfo): a
// benchmark alone on a machine reads its own use from the difference to a reading taken first.
size_t device_memory_used();

// Pinned (page-locked) host memory: copies between it and the device run asynchronously at full speed.
void* host_malloc_pinned(size_t bytes);
void host_free_pinned(void* p) noexcept;

// A typed pinned host allocation that frees itself.
template <class T>
class HostArray {
 public:
  HostArray() = default;
  explicit HostArray(size_t n) : p_(static_cast<T*>(host_malloc_pinned(n * sizeof(T)))), n_(n) {}
  ~HostArray() { host_free_pinned(p_); }
  HostArray(HostArray&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  HostArray& operator=(HostArray&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;
  T* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

// A typed device allocation that frees itself; elements are trivially copyable (float, bf16, int32_t).
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) : p_(static_cast<T*>(device_malloc(n * sizeof(T)))), n_(n) {}
  DeviceArray(const T* host, size_t n) : DeviceArray(n) { copy_to_device(p_, host, n * sizeof(T)); }
  ~DeviceArray() { device_free(p_); }
  DeviceArray(DeviceArray&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return p_; }
  size_t size() const { return n_; }
  void upload(const T* host) { copy_to_device(p_, host, n_ * sizeof(T)); }
  void download(T* host) const { copy_to_host(host, p_, n_ * sizeof(T)); }
  // All bytes 0xff: a NaN as fp32 and as bf16, so that an element a kernel fails to write shows.
  void poison() { fill_bytes(p_, 0xff, n_ * sizeof(T)); }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace tandem::cuda
