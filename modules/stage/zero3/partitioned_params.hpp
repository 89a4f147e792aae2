// ZeRO-3's parameters: each rank holds only its shard of them (the flat per-group layout of every
// stage: slice r of each group's padded buffer, common/shard_layout.hpp), plus whole copies of the
// persistent (small) parameters; a layer's other parameters are gathered when it is acquired and
// freed when it is released.
//
// Layout choice: the per-group flat layout rather than DeepSpeed's per-parameter partitioning, so
// that all four stages share one shard (the optimizer state, the fp32 master weights and the
// checkpoints' master shards mean the same elements under every stage) and ZeRO-3's shard IS its
// fp32 master: no second copy. A layer's parameters are then ranges of group buffers, and
// gathering a range means each owner broadcasting its piece of it into every rank's gathered
// buffer, in place: no scratch, each element sent once. The gathered buffer keeps the layer's
// parameters in (group, position) order, so that a layer's parameters of one group, adjacent in the
// group buffer, are one range, cut only at owner boundaries (a GPT block: two ranges).
//
// Persistence (DeepSpeed's mark_persistent_parameters): in the model's order, a parameter of at
// most stage3_param_persistence_threshold elements is kept whole while the persistent total stays
// within stage3_model_persistence_threshold. Its shard is still what the optimizer updates; after
// each step the persistent copies are gathered again.
//
// Prefetch: when a layer is acquired, the layers that earlier passes acquired next (pass_trace.hpp)
// are gathered too, in order, while the layers gathered ahead stay within
// stage3_prefetch_bucket_size elements and everything gathered within stage3_max_live_parameters
// (the layer being acquired is gathered whatever the limits). With a synchronous communicator a
// prefetch is a gather done earlier, its size bounded the same way. A layer gathered ahead is freed
// as soon as the pass turns out not to need it next (an acquire the stored passes did not predict),
// and at the latest when the pass ends; so the limits hold whatever the guesses, except that the
// layers in use are always gathered.
//
// Precision (tandem/working_precision.hpp): the shard is the fp32 master; what a rank gathers and
// keeps persistent is the master rounded to the working precision and stored as the stage's memory
// stores working values (tandem/memory.h: the working type itself on a GPU, fp32 words on the CPU),
// so the model computes with the values a bf16/fp16 partition holds (DeepSpeed's ZeRO-3 gathers its
// 16-bit partition). On a GPU without overlap_comm the gathers, their allocations and frees are
// queued on the run's stream, so a prefetched layer's gather runs ahead of the kernels that read it
// (with overlap_comm, on the side queue: below).
//
// overlap_comm on a device: every gather goes to the memory's side queue (tandem/memory.h), where
// the gradient reductions go too (common/gradient_buckets.hpp), so the rank's collectives keep one
// order on the GPU (a communicator's collectives on two streams at once could run in different
// orders on different ranks and wait for each other). A layer's own gather is joined before its
// views are handed out, and the prefetches are issued after that join: they run while the model
// computes with the layer. A layer gathered on the side queue and not yet joined is joined before it
// is freed, and everything is joined before the main stream reads or writes the shard (set, get,
// refresh) or queues a collective of its own.
//
// Not used: stage3_max_reuse_distance (a released layer is always freed: it is gathered again at
// its next use).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/layer_index.hpp"
#include "../common/shard_layout.hpp"
#include "pass_trace.hpp"
#include "tandem/memory.hpp"
#include "tandem/stage.hpp"
#include "tandem/working_precision.hpp"

namespace tandem::stage {

class PartitionedParams {
 public:
  PartitionedParams(const ShardLayout& layout, const LayerIndex& layers, sdk::CommClient comm,
                    const tandem_stage_options& options, sdk::Memory memory)
      : layout_(layout),
        layers_(layers),
        comm_(comm),
        memory_(memory),
        prefetch_limit_(static_cast<size_t>(std::max<int64_t>(0, options.prefetch_bucket_size))),
        live_limit_(static_cast<size_t>(std::max<int64_t>(0, options.max_live_parameters))),
        dtype_(sdk::working_dtype(options)),
        storage_(memory.storage_dtype(dtype_)),
        element_(memory.storage_size(dtype_)),
        side_(options.overlap_comm != 0 && memory.on_device()),
        shard_(memory, layout.shard_numel()) {
    const size_t count = layout.flat().params().size();
    persistent_at_.assign(count, kNone);
    gathered_at_.assign(count, kNone);
    std::vector<uint32_t> persistent;
    size_t persistent_total = 0;
    for (uint32_t i = 0; i < count; ++i) {
      const size_t n = layout.param(i).numel;
      if (static_cast<int64_t>(n) <= options.param_persistence_threshold &&
          static_cast<int64_t>(persistent_total + n) <= options.model_persistence_threshold) {
        persistent_at_[i] = persistent_total;
        persistent_total += n;
        persistent.push_back(i);
      }
    }
    persistent_ = sdk::Buffer<std::byte>(memory_, persistent_total * element_);
    persistent_ranges_ = ranges_of(persistent, persistent_at_);

    layer_.resize(static_cast<size_t>(layers.layer_count()));
    for (int32_t l = 0; l < layers.layer_count(); ++l) {
      std::vector<uint32_t> gathered;
      for (uint32_t i : layers.params_of(l))
        if (persistent_at_[i] == kNone) gathered.push_back(i);
      std::sort(gathered.begin(), gathered.end(), [&](uint32_t a, uint32_t b) {
        return layout.flat().global_offset(a) < layout.flat().global_offset(b);
      });
      Layer& L = layer_[static_cast<size_t>(l)];
      for (uint32_t i : gathered) {
        gathered_at_[i] = L.numel;
        L.numel += layout.param(i).numel;
      }
      L.ranges = ranges_of(gathered, gathered_at_);
    }
  }

  // The full value of parameter `index` (host fp32; every rank is given the same): the pieces this
  // rank owns, the persistent copy, and the gathered copy if its layer is gathered.
  void set(uint32_t index, const float* values) {
    join();
    const sdk::FlatParam& p = layout_.param(index);
    layout_.for_each_owner_piece(p.group, p.offset, p.numel, [&](int32_t q, size_t first, size_t count, size_t done) {
      if (q == layout_.rank())
        memory_.copy(shard_.data() + layout_.shard_index(p.group, first), values + done, count * sizeof(float));
    });
    if (std::byte* copy = resident(index)) {
      sdk::Buffer<float> staged;
      memory_.to_working(copy, sdk::from_host(memory_, values, p.numel, staged), p.numel, dtype_);
    }
    memory_.synchronize();
  }

  // Parameter `index` as the model sees it, into host fp32 `out`. Collective for a partitioned
  // parameter (every rank calls it in the same order).
  void get(uint32_t index, float* out) {
    join();
    const sdk::FlatParam& p = layout_.param(index);
    sdk::Buffer<std::byte> gathered;
    const std::byte* values = nullptr;
    if (persistent_at_[index] != kNone) {
      values = persistent_.data() + persistent_at_[index] * element_;
    } else {
      gathered = sdk::Buffer<std::byte>(memory_, p.numel * element_);
      gather({Range{p.group, p.offset, p.numel, 0}}, gathered.data());
      values = gathered.data();
    }
    sdk::working_to_host(memory_, out, values, p.numel, dtype_);
  }

  void acquire(int32_t layer, tandem_tensor_view* views) {
    const std::vector<uint32_t>& params = layers_.params_of(layer);
    Layer& L = layer_[static_cast<size_t>(layer)];
    trace_.record(layer);
    const std::vector<int32_t> next = trace_.upcoming();
    drop_unexpected(layer, next);
    if (!L.gathered) gather_layer(L);
    if (L.pending) join();  // before the prefetches below are issued: they overlap the layer's use
    ++L.acquired;
    ++acquired_;
    prefetch(next);
    for (size_t k = 0; k < params.size(); ++k)
      views[k] = layers_.view(params[k], resident(params[k]), storage_, memory_.where());
  }

  void release(int32_t layer) {
    layers_.check_layer(layer);
    Layer& L = layer_[static_cast<size_t>(layer)];
    if (L.acquired == 0) throw std::invalid_argument("release of layer " + std::to_string(layer) + ", not acquired");
    --acquired_;
    if (--L.acquired == 0) drop(L);
    if (acquired_ == 0) {  // the pass is over: remember its order, free what was gathered ahead for nothing
      trace_.end_pass();
      for (Layer& other : layer_)
        if (other.gathered) drop(other);
    }
  }

  // After the optimizer updated the shard: persistent copies and acquired layers gathered anew
  // (a layer gathered ahead is freed: its values are stale). Collective.
  void refresh() {
    join();
    gather(persistent_ranges_, persistent_.data());
    for (Layer& L : layer_) {
      if (!L.gathered) continue;
      if (L.acquired > 0)
        gather(L.ranges, L.values.data());
      else
        drop(L);
    }
  }

  float* shard() { return shard_.data(); }

  void master_shard(uint32_t g, tandem_tensor_view& view, uint64_t& offset, uint64_t& padded) {
    if (g >= layout_.group_count()) throw std::invalid_argument("master_shard: no group " + std::to_string(g));
    const sdk::FlatGroup& fg = layout_.group(g);
    view = sdk::make_view(shard_.data() + layout_.shard_offset(g), TANDEM_DTYPE_F32, {static_cast<int64_t>(fg.partition)});
    view.device = memory_.where().device;
    view.device_index = memory_.where().device_index;
    offset = layout_.slice_begin(g, layout_.rank());
    padded = fg.padded;
  }

  // Resident between passes: the shard and the persistent copies.
  uint64_t resident_bytes() const { return shard_.bytes() + persistent_.bytes(); }
  uint64_t peak_gathered_bytes() const { return peak_ * element_; }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  // Group elements [first, first + count), to go to element `at` of a destination buffer.
  struct Range {
    size_t group, first, count, at;
  };
  struct Layer {
    std::vector<Range> ranges;  // its non-persistent parameters
    size_t numel = 0;
    sdk::Buffer<std::byte> values;  // gathered (numel working elements), while `gathered`
    bool gathered = false;
    bool pending = false;  // gathered on the side queue, not yet joined
    int32_t acquired = 0;
  };

  // Ranges for `params` (ascending in the flat layout) placed at at[i]; neighbours in both the group
  // buffer and the destination are merged.
  std::vector<Range> ranges_of(const std::vector<uint32_t>& params, const std::vector<size_t>& at) const {
    std::vector<Range> out;
    for (uint32_t i : params) {
      const sdk::FlatParam& p = layout_.param(i);
      if (p.numel == 0) continue;
      if (!out.empty()) {
        Range& last = out.back();
        if (last.group == p.group && last.first + last.count == p.offset && last.at + last.count == at[i]) {
          last.count += p.numel;
          continue;
        }
      }
      out.push_back(Range{p.group, p.offset, p.numel, at[i]});
    }
    return out;
  }

  // Every rank receives the ranges' working values into dst (working elements): each owner
  // broadcasts its piece of each range, in the same order on every rank. Collective.
  void gather(const std::vector<Range>& ranges, std::byte* dst) {
    for (const Range& r : ranges)
      layout_.for_each_owner_piece(r.group, r.first, r.count, [&](int32_t q, size_t first, size_t count, size_t done) {
        std::byte* out = dst + (r.at + done) * element_;
        if (q == layout_.rank())
          memory_.to_working(out, shard_.data() + layout_.shard_index(r.group, first), count, dtype_);
        if (layout_.world() > 1) comm_.broadcast(out, count * element_, q);
      });
  }

  void gather_layer(Layer& L) {
    if (side_) {
      sdk::SideQueue side(memory_);
      L.values = sdk::Buffer<std::byte>(memory_, L.numel * element_);
      gather(L.ranges, L.values.data());
      side.end();
      L.pending = true;
    } else {
      L.values = sdk::Buffer<std::byte>(memory_, L.numel * element_);
      gather(L.ranges, L.values.data());
    }
    L.gathered = true;
    live_ += L.numel;
    peak_ = std::max(peak_, live_);
  }

  void drop(Layer& L) {
    if (!L.gathered) return;
    if (L.pending) join();  // its gather may still be writing it
    live_ -= L.numel;
    L.values.reset();
    L.gathered = false;
  }

  // Layers gathered ahead for a pass that went another way (not `layer`, not expected next) are
  // freed before anything else is gathered, so that a wrong guess cannot push the live parameters
  // over the limit.
  void drop_unexpected(int32_t layer, const std::vector<int32_t>& next) {
    for (size_t l = 0; l < layer_.size(); ++l) {
      Layer& L = layer_[l];
      const int32_t id = static_cast<int32_t>(l);
      if (L.gathered && L.acquired == 0 && id != layer && std::find(next.begin(), next.end(), id) == next.end())
        drop(L);
    }
  }

  // Gathers the layers expected next while the limits allow, stopping at the first that does not fit.
  void prefetch(const std::vector<int32_t>& upcoming) {
    size_t ahead = 0;
    for (const Layer& L : layer_)
      if (L.gathered && L.acquired == 0) ahead += L.numel;
    for (int32_t next : upcoming) {
      Layer& L = layer_[static_cast<size_t>(next)];
      if (L.gathered || L.numel == 0) continue;
      if (ahead + L.numel > prefetch_limit_ || live_ + L.numel > live_limit_) return;
      gather_layer(L);
      ahead += L.numel;
    }
  }

  // The main stream waits for everything on the side queue (nothing is pending after it).
  void join() {
    if (!side_) return;
    memory_.join_side();
    for (Layer& L : layer_) L.pending = false;
  }

  // Where parameter i's whole working value is on this rank now (persistent or gathered), or null.
  std::byte* resident(uint32_t i) {
    if (persistent_at_[i] != kNone) return persistent_.data() + persistent_at_[i] * element_;
    Layer& L = layer_[static_cast<size_t>(layers_.info(i).layer)];
    return L.gathered ? L.values.data() + gathered_at_[i] * element_ : nullptr;
  }

  const ShardLayout& layout_;
  const LayerIndex& layers_;
  sdk::CommClient comm_;
  sdk::Memory memory_;
  size_t prefetch_limit_, live_limit_;  // elements
  tandem_dtype dtype_;                  // of what is gathered and persistent
  tandem_dtype storage_;                // and how it is stored
  size_t element_;                      // bytes per working element
  bool side_;                           // overlap_comm on a device: gathers on the side queue
  sdk::Buffer<float> shard_;            // this rank's slice of every group: the fp32 master
  sdk::Buffer<std::byte> persistent_;   // whole persistent parameters, in the model's order
  std::vector<size_t> persistent_at_;   // per parameter: where in persistent_, or kNone
  std::vector<size_t> gathered_at_;     // per parameter: where in its layer's gathered values, or kNone
  std::vector<Range> persistent_ranges_;
  std::vector<Layer> layer_;
  PassTrace trace_;
  int32_t acquired_ = 0;  // acquires not yet released, over all layers
  size_t live_ = 0, peak_ = 0;
};

}  // namespace tandem::stage
