// A layer acquired from a ParamAccess, released on every path: explicitly on success (so the
// accessor's errors propagate), and quietly while an exception unwinds (the pass has failed anyway).
// The model acquires its layers through it (the gpt module has the same class; modules share no headers).
#pragma once

#include "tandem/compute/param_access.hpp"

namespace tandem::llama {

class LayerLease {
 public:
  LayerLease(compute::ParamAccess& access, int layer) : access_(access), layer_(layer) {}
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
  compute::ParamAccess& access_;
  int layer_;
  bool held_ = true;
};

}  // namespace tandem::llama
