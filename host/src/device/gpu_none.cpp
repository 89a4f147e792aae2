// The GPU interface of a libtandem built without the CUDA backend: no device can be opened (the
// stand-in GPU of stand_in_gpu.cpp still can).
#include <stdexcept>

#include "device/gpu.hpp"

namespace tandem::gpu {

bool built_with_cuda() { return false; }
int device_count(std::string* why) {
  if (why) *why = "built without CUDA";
  return 0;
}
std::shared_ptr<Device> Device::open(int index) {
  throw std::runtime_error("opening GPU " + std::to_string(index) +
                           ": this tandem was built without the CUDA backend (no nvcc was found when it was "
                           "configured; see cmake/TandemCuda.cmake)");
}

}  // namespace tandem::gpu
