// The order in which the model acquires its layers, learnt from earlier passes, for ZeRO-3's
// prefetch (DeepSpeed's PartitionedParameterCoordinator records the module trace of the first step
// and prefetches along it afterwards).
//
// A pass runs from an acquire made while no layer is acquired to the release that leaves none
// acquired: for the GPT model one forward, or one backward (the embeddings stay acquired through
// each). Forward and backward both begin with the embeddings, so the prediction is made from every
// stored pass that began like the current one, and it only reaches as far as they all agree: after
// the first layer nothing is predicted, after the second the pass is known. A model that strays
// from the recorded order only loses prefetching, never correctness (a layer that is not gathered
// when it is acquired is gathered then).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace tandem::stage {

class PassTrace {
 public:
  void record(int32_t layer) { current_.push_back(layer); }

  // Stores the pass that just ended (most recent last, duplicates merged, a few kept).
  void end_pass() {
    if (current_.empty()) return;
    passes_.erase(std::remove(passes_.begin(), passes_.end(), current_), passes_.end());
    passes_.push_back(current_);
    if (passes_.size() > kKept) passes_.erase(passes_.begin());
    current_.clear();
  }

  // The layers every stored pass that began like the current one acquires next, in order.
  std::vector<int32_t> upcoming() const {
    std::vector<const std::vector<int32_t>*> alike;
    for (const std::vector<int32_t>& p : passes_)
      if (p.size() > current_.size() && std::equal(current_.begin(), current_.end(), p.begin())) alike.push_back(&p);
    std::vector<int32_t> out;
    if (alike.empty()) return out;
    for (size_t i = current_.size(); i < alike.front()->size(); ++i) {
      const int32_t next = (*alike.front())[i];
      for (const std::vector<int32_t>* p : alike)
        if (i >= p->size() || (*p)[i] != next) return out;
      out.push_back(next);
    }
    return out;
  }

 private:
  static constexpr size_t kKept = 8;  // forward, backward, and room for a model's other kinds of pass
  std::vector<int32_t> current_;
  std::vector<std::vector<int32_t>> passes_;
};

}  // namespace tandem::stage
