// The stand-in GPU of the stage conformance suite: libtandem's StandInMemory (tandem/stand_in_memory.hpp:
// host memory that says it is a CUDA device, strict about every queued copy), and a host optimizer
// presented as one that also runs on it (its memory is host memory, so the host optimizer computes on
// it as it is).
#pragma once

#include "tandem/optimizer.h"
#include "tandem/stand_in_memory.hpp"

namespace tandem::test {

using StandInDevice = StandInMemory;

// A host optimizer's instance, presented as one that also runs on the stand-in device.
class StandInDeviceOptimizer {
 public:
  StandInDeviceOptimizer(void* instance, const tandem_optimizer_vtable* vtable);
  void* instance() { return this; }
  const tandem_optimizer_vtable* vtable() const { return &table_; }

 private:
  static StandInDeviceOptimizer& self(const void* p) {
    return *static_cast<StandInDeviceOptimizer*>(const_cast<void*>(p));
  }
  void* inner_;
  const tandem_optimizer_vtable* inner_vt_;
  tandem_optimizer_vtable table_{};
};

}  // namespace tandem::test
