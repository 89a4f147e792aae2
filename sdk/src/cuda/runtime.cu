// Device queries and memory for host code that does not include CUDA's headers.
#include "check.cuh"

namespace tandem::cuda {

int device_count(std::string* why) noexcept {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky, but leave nothing behind for the next check
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device";
  return n;
}

std::string device_description() {
  int device = 0;
  detail::check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  detail::check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
         std::to_string(prop.multiProcessorCount) + " SMs)";
}

// From the device's default memory pool (as stages' stream-ordered allocations are), so that one
// pool's statistics count every allocation tandem makes; ready for any stream on return.
void* device_malloc(size_t bytes) {
  void* p = nullptr;
  detail::check(cudaMallocAsync(&p, bytes, nullptr), "cudaMallocAsync of " + std::to_string(bytes) + " bytes");
  detail::check(cudaStreamSynchronize(nullptr), "cudaMallocAsync of " + std::to_string(bytes) + " bytes");
  return p;
}

void device_free(void* p) noexcept {
  if (p) (void)cudaFree(p);  // synchronises the device first: no queued kernel still reads it
}

PoolUsage pool_usage() {
  int device = 0;
  detail::check(cudaGetDevice(&device), "cudaGetDevice");
  cudaMemPool_t pool = nullptr;
  detail::check(cudaDeviceGetDefaultMemPool(&pool, device), "cudaDeviceGetDefaultMemPool");
  uint64_t used = 0, peak = 0;
  detail::check(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used), "cudaMemPoolGetAttribute");
  detail::check(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &peak), "cudaMemPoolGetAttribute");
  return PoolUsage{static_cast<size_t>(used), static_cast<size_t>(peak)};
}

void reset_pool_peak() {
  int device = 0;
  detail::check(cudaGetDevice(&device), "cudaGetDevice");
  cudaMemPool_t pool = nullptr;
  detail::check(cudaDeviceGetDefaultMemPool(&pool, device), "cudaDeviceGetDefaultMemPool");
  uint64_t zero = 0;
  detail::check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero), "cudaMemPoolSetAttribute");
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  detail::check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice),
                "cudaMemcpy host to device of " + std::to_string(bytes) + " bytes");
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  detail::check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost),
                "cudaMemcpy device to host of " + std::to_string(bytes) + " bytes");
}

void fill_bytes(void* dst, int byte, size_t bytes) {
  detail::check(cudaMemset(dst, byte, bytes), "cudaMemset of " + std::to_string(bytes) + " bytes");
}

void copy_async(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  detail::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream),
                "cudaMemcpyAsync of " + std::to_string(bytes) + " bytes");
}

void fill_bytes_async(void* dst, int byte, size_t bytes, cudaStream_t stream) {
  detail::check(cudaMemsetAsync(dst, byte, bytes, stream), "cudaMemsetAsync of " + std::to_string(bytes) + " bytes");
}

Event::Event() { detail::check(cudaEventCreate(&event_), "cudaEventCreate"); }
Event::~Event() {
  if (event_) (void)cudaEventDestroy(event_);
}
void Event::record(cudaStream_t stream) { detail::check(cudaEventRecord(event_, stream), "cudaEventRecord"); }
void Event::synchronize() const { detail::check(cudaEventSynchronize(event_), "cudaEventSynchronize (a fault surfaces here)"); }

void* host_malloc_pinned(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return p;
  detail::check(cudaHostAlloc(&p, bytes, cudaHostAllocPortable), "cudaHostAlloc of " + std::to_string(bytes) + " bytes");
  return p;
}
void host_free_pinned(void* p) noexcept {
  if (p) (void)cudaFreeHost(p);
}
float Event::milliseconds_since(const Event& earlier) const {
  detail::check(cudaEventSynchronize(event_), "cudaEventSynchronize");
  float ms = 0;
  detail::check(cudaEventElapsedTime(&ms, earlier.event_, event_), "cudaEventElapsedTime");
  return ms;
}

size_t device_memory_used() {
  size_t free_bytes = 0, total = 0;
  detail::check(cudaMemGetInfo(&free_bytes, &total), "cudaMemGetInfo");
  return total - free_bytes;
}

void synchronize() { detail::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (a kernel fault surfaces here)"); }

}  // namespace tandem::cuda
