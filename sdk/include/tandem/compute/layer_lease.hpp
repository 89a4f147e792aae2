// A layer acquired from a ParamAccess, released on every path: explicitly on success (so the
// accessor's errors propagate), and quietly while an exception unwinds (the pass has failed anyway).
// Every model module (gpt on the CPU and the GPU, llama) acquires its layers through it.
#pragma once

#include "tandem/compute/param_access.hpp"

namespace tandem::compute {

class LayerLease {
 public:
  LayerLease(ParamAccess& access, int layer) : access_(access), layer_(layer) {}
  LayerLease(const LayerLease&) = delete;
  LayerLease& operator=(const LayerLease&) = delete;
  ~LayerLease() {
    if (held_) {
      try {
        access_.release(layer_);
      } catch (...) {  // NOLINT: nothing better to do while unwinding
      }
    }
  }
  void release() {
    held_ = false;
    access_.release(layer_);
  }

 private:
  ParamAccess& access_;
  int layer_;
  bool held_ = true;
};

}  // namespace tandem::compute
