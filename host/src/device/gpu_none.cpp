// The GPU interface of a libtandem built without the CUDA backend: no device can be opened, and only
// host views can be read or written.
#include <cstring>
#include <stdexcept>

#include "device/gpu.hpp"

namespace tandem::gpu {

namespace {
[[noreturn]] void no_cuda(const std::string& what) {
  throw std::runtime_error(what + ": this tandem was built without the CUDA backend (no nvcc was found when it was "
                                  "configured; see cmake/TandemCuda.cmake)");
}
void host_only(const tandem_tensor_view& view) {
  if (view.device != TANDEM_DEVICE_CPU) no_cuda("a device tensor");
}
}  // namespace

bool built_with_cuda() { return false; }
int device_count(std::string* why) {
  if (why) *why = "built without CUDA";
  return 0;
}
std::shared_ptr<Device> Device::open(int index) { no_cuda("opening GPU " + std::to_string(index)); }
std::unique_ptr<Loss> Loss::make(const Device&) { no_cuda("the loss on a GPU"); }
std::unique_ptr<Timer> Timer::make(const Device&, int) { no_cuda("GPU timers"); }

void read_view(const tandem_tensor_view& view, std::span<float> out) {
  host_only(view);
  if (!out.empty()) std::memcpy(out.data(), view.data, out.size_bytes());
}
void read_device(const void*, uint32_t, int, std::span<float>) { no_cuda("reading GPU memory"); }

void write_view(std::span<const float> values, const tandem_tensor_view& view) {
  host_only(view);
  if (!values.empty()) std::memcpy(view.data, values.data(), values.size_bytes());
}

}  // namespace tandem::gpu
