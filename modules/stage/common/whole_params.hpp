// ZeRO-1 and ZeRO-2's parameters: every rank holds the whole working parameters (the flat layout of
// every stage: one padded buffer per group, concatenated), and its own fp32 master shard, which is
// what the optimizer updates. After the update each rank copies its master shard into its slices
// of the working parameters and all-gathers each group in place, so every rank has the whole model
// again (DeepSpeed's stage_1_and_2.py: the fp32 partition is copied into the bit16 partition, then
// the bit16 partitions are all-gathered).
//
// The working parameters are the master rounded to the working precision
// (tandem/working_precision.hpp), stored as the stage's memory stores them (tandem/memory.h: fp32
// words on the CPU, the working type itself on a GPU). The master shard is kept apart because the
// optimizer takes one contiguous shard and the rank's slices of different groups are not
// contiguous in the working buffer. Its cost, S floats (about 1/W of the model), is master_bytes.
//
// ZeRO-Offload (offload_optimizer.device set, on a GPU): the master shard and the optimizer state
// stay in host memory and the optimizer steps there, streamed tile by tile (DeepSpeed's
// ZeRO-Offload with its CPU Adam): the accumulated gradients come down to pinned host memory in
// chunks on the copy queue, the optimizer's before-tile hook waits for the chunk a tile reads, and
// its after-tile hook sends the tile's new working parameters (the bf16 copy it writes in the same
// pass) up to the device, while other tiles are still being computed. The main stream waits for
// the uploads before anything reads the parameters again.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "layer_index.hpp"
#include "shard_layout.hpp"
#include "shard_step.hpp"
#include "tandem/memory.hpp"
#include "tandem/stage.hpp"
#include "tandem/working_precision.hpp"

namespace tandem::stage {

class WholeParams {
 public:
  // master_on_host: keep the master shard in (pinned) host memory and step there (shard_on_host()).
  WholeParams(const ShardLayout& layout, const LayerIndex& layers, tandem_dtype dtype, sdk::Memory memory,
              bool master_on_host)
      : layout_(layout),
        layers_(layers),
        dtype_(dtype),
        memory_(memory),
        storage_(memory.storage_dtype(dtype)),
        element_(memory.storage_size(dtype)),
        offloaded_(master_on_host && memory.on_device()),
        params_(memory, layout.flat().total_padded() * memory.storage_size(dtype)),
        master_(memory, layout.shard_numel(),
                offloaded_ ? sdk::Buffer<float>::Where::host : sdk::Buffer<float>::Where::device) {}

  // The full value of parameter `index` (host fp32; every rank is given the same): the working
  // copy, and the pieces this rank owns into its master shard.
  void set(uint32_t index, const float* values) {
    const sdk::FlatParam& p = layout_.param(index);
    sdk::Buffer<float> staged;
    memory_.to_working(working(layout_.flat().global_offset(index)), sdk::from_host(memory_, values, p.numel, staged),
                       p.numel, dtype_);
    layout_.for_each_owner_piece(p.group, p.offset, p.numel, [&](int32_t q, size_t first, size_t count, size_t done) {
      if (q == layout_.rank())
        memory_.copy(master_.data() + layout_.shard_index(p.group, first), values + done, count * sizeof(float));
    });
    memory_.synchronize();
  }
  // Parameter `index` as the model sees it (the working values), into host fp32 `out`.
  void get(uint32_t index, float* out) const {
    sdk::working_to_host(memory_, out, working(layout_.flat().global_offset(index)), layout_.param(index).numel, dtype_);
  }

  void views(int32_t layer, tandem_tensor_view* out) {
    const std::vector<uint32_t>& params = layers_.params_of(layer);
    for (size_t k = 0; k < params.size(); ++k)
      out[k] = layers_.view(params[k], working(layout_.flat().global_offset(params[k])), storage_, memory_.where());
  }

  float* master() { return master_.data(); }

  // The optimizer's update of the master shard from `grads` (the accumulated gradient shard, in the
  // stage's memory), then every rank's working parameters made whole again. Collective.
  void step(sdk::OptimizerClient& optimizer, const float* grads, const tandem_stage_step_args& args,
            sdk::CommClient& comm) {
    tandem_optimizer_step_args opt = shard_step_args(layout_, master_.data(), grads, args, groups_);
    if (!offloaded_) {
      optimizer.step(opt);
      publish(comm);
      return;
    }
    step_offloaded(optimizer, opt, grads);
    gather(comm);
  }

  // Checkpoints: this rank's master slice of group g, where it lies in the group's padded buffer.
  void master_shard(uint32_t g, tandem_tensor_view& shard, uint64_t& offset, uint64_t& padded) {
    if (g >= layout_.group_count()) throw std::invalid_argument("master_shard: no group " + std::to_string(g));
    const sdk::FlatGroup& fg = layout_.group(g);
    shard = sdk::make_view(master_.data() + layout_.shard_offset(g), TANDEM_DTYPE_F32,
                           {static_cast<int64_t>(fg.partition)});
    const tandem_placement where = offloaded_ ? sdk::host_memory_ops()->where : memory_.where();
    shard.device = where.device;
    shard.device_index = where.device_index;
    offset = layout_.slice_begin(g, layout_.rank());
    padded = fg.padded;
  }

  uint64_t param_bytes() const { return params_.bytes(); }
  uint64_t master_bytes() const { return master_.bytes(); }

 private:
  // Gradients come down in chunks: each is one copy and one ticket, at most 16 MiB of fp32 and at
  // most an eighth of the shard, so that the first tiles start while the rest is still coming.
  static constexpr size_t kMaxChunk = size_t{1} << 22;
  static size_t chunk_elements(size_t shard) { return std::clamp<size_t>(shard / 8, 1, kMaxChunk); }

  std::byte* working(size_t element) const { return params_.data() + element * element_; }

  // The updated master shards become every rank's working parameters. Collective.
  void publish(sdk::CommClient& comm) {
    for (size_t g = 0; g < layout_.group_count(); ++g) {
      const sdk::FlatGroup& fg = layout_.group(g);
      if (fg.partition == 0) continue;
      memory_.to_working(working(fg.base + layout_.slice_begin(g, layout_.rank())),
                         master_.data() + layout_.shard_offset(g), fg.partition, dtype_);
    }
    gather(comm);
  }

  // Each rank's slices to every rank, in place (comm.h allows the alias). Collective.
  void gather(sdk::CommClient& comm) {
    if (layout_.world() == 1) return;
    for (size_t g = 0; g < layout_.group_count(); ++g) {
      const sdk::FlatGroup& fg = layout_.group(g);
      if (fg.partition == 0) continue;
      std::byte* mine = working(fg.base + layout_.slice_begin(g, layout_.rank()));
      comm.all_gather(mine, working(fg.base), fg.partition, storage_);
    }
  }

  void step_offloaded(sdk::OptimizerClient& optimizer, tandem_optimizer_step_args& opt, const float* grads) {
    const size_t n = layout_.shard_numel();
    if (host_grads_.empty() && n > 0) {
      host_grads_ = sdk::Buffer<float>(memory_, n, sdk::Buffer<float>::Where::host);
      if (storage_ != TANDEM_DTYPE_F32)
        host_working_ = sdk::Buffer<std::byte>(memory_, n * element_, sdk::Buffer<std::byte>::Where::host);
    }
    tickets_.clear();
    chunk_ = chunk_elements(n);
    for (size_t b = 0; b < n; b += chunk_)
      tickets_.push_back(memory_.copy_async(host_grads_.data() + b, grads + b, std::min(chunk_, n - b) * sizeof(float)));
    opt.grads = host_grads_.data();
    if (storage_ == TANDEM_DTYPE_BF16) opt.params_bf16 = host_working_.data();
    if ((optimizer.capabilities() & TANDEM_OPTIMIZER_CALLS_TILE_HOOKS) != 0) {
      opt.hook_ctx = this;
      opt.before_tile = &before_tile;
      opt.after_tile = &after_tile;
      optimizer.step(opt);
    } else {  // an optimizer that does not stream: every gradient first, every tile up after
      if (!tickets_.empty()) memory_.wait_copy(tickets_.back());
      optimizer.step(opt);
      for (const tandem_optimizer_group& g : groups_) upload(g.offset, g.count);
    }
    memory_.join_copies();  // nothing reads the parameters before the last tile is up
  }

  // The optimizer is about to read shard elements [offset, offset + count): their gradients are here.
  static tandem_status before_tile(void* ctx, size_t offset, size_t count, tandem_error* err) noexcept {
    return sdk::guard(err, [&] {
      auto& self = *static_cast<WholeParams*>(ctx);
      if (count == 0) return;
      self.memory_.wait_copy(self.tickets_.at((offset + count - 1) / self.chunk_));
    });
  }

  // Shard elements [offset, offset + count) are updated: their working values go up to the device.
  static tandem_status after_tile(void* ctx, size_t offset, size_t count, tandem_error* err) noexcept {
    return sdk::guard(err, [&] { static_cast<WholeParams*>(ctx)->upload(offset, count); });
  }

  // Shard elements [offset, offset + count) into this rank's slices of the working parameters (a
  // range may span groups: one copy per group it touches).
  void upload(size_t offset, size_t count) {
    for (size_t g = 0; g < layout_.group_count(); ++g) {
      const size_t begin = std::max(offset, layout_.shard_offset(g));
      const size_t end = std::min(offset + count, layout_.shard_offset(g) + layout_.group(g).partition);
      if (begin >= end) continue;
      const size_t dst = layout_.group(g).base + layout_.slice_begin(g, layout_.rank()) + (begin - layout_.shard_offset(g));
      memory_.copy_async(working(dst), host_source(begin, end - begin), (end - begin) * element_);
    }
  }

  // The working values of shard elements [s, s + n) on the host: the master itself in fp32, the
  // optimizer's bf16 copy, or (fp16) rounded here.
  const void* host_source(size_t s, size_t n) {
    switch (storage_) {
      case TANDEM_DTYPE_F32:
        return master_.data() + s;
      case TANDEM_DTYPE_F16: {
        auto* out = reinterpret_cast<uint16_t*>(host_working_.data()) + s;
        for (size_t i = 0; i < n; ++i) out[i] = sdk::float_to_fp16(master_.data()[s + i]);
        return out;
      }
      default:
        return host_working_.data() + s * element_;
    }
  }

  const ShardLayout& layout_;
  const LayerIndex& layers_;
  tandem_dtype dtype_;
  sdk::Memory memory_;
  tandem_dtype storage_;  // what a working element is stored as
  size_t element_;        // and its size in bytes
  bool offloaded_;
  sdk::Buffer<std::byte> params_;  // the whole model, flat layout, working precision
  sdk::Buffer<float> master_;      // this rank's shard (host memory when offloaded)
  std::vector<tandem_optimizer_group> groups_;
  // Offloaded steps only: the gradient shard and the working values on the host, and the tickets of
  // the gradient chunks' copies.
  sdk::Buffer<float> host_grads_;
  sdk::Buffer<std::byte> host_working_;
  std::vector<uint64_t> tickets_;
  size_t chunk_ = 1;  // elements per gradient chunk this step
};

}  // namespace tandem::stage
