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

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  detail::check(cudaMalloc(&p, bytes), "cudaMalloc of " + std::to_string(bytes) + " bytes");
  return p;
}

void device_free(void* p) noexcept {
  if (p) (void)cudaFree(p);
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
