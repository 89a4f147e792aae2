// Gradients reduced in buckets as layers finish their backward (ZeRO-2 and ZeRO-3), into this
// rank's accumulated gradient shard. DeepSpeed's stage_1_and_2.py does the same with its "ipg"
// bucket: parameters' gradients are copied into one contiguous buffer as they are produced, and
// when the next one would not fit, the bucket is reduced and each rank keeps what it owns.
//
// Numerics (stage.h's contract): each element of a bucket is reduced over ranks exactly once per
// micro-step with TANDEM_REDUCE_AVERAGE (sum in rank order, times 1/W) and then ADDED to the
// owner's accumulated gradient, as ZeRO-0 adds its all-reduced micro-step gradients. The two
// collectives below give every element the same bits (comm.h: a reduce-scatter's slice equals the
// all-reduce's), so the choice between them changes traffic and memory, never results.
//
// How a bucket reaches its owners. The bucket's elements are ranges of group buffers, and each
// range is cut into owner pieces (ShardLayout). With c_q the elements rank q owns and m = max c_q:
//   reduce_scatter  each rank packs its copy into W segments of m elements, segment q holding the
//                   pieces q owns (zero-filled to m), and reduce-scatters them: rank q receives
//                   exactly its elements, reduced. Moves W*m elements, needs W*m + m of scratch.
//                   Ideal when the bucket spreads evenly over the owners (W*m close to the bucket).
//   all_reduce      the bucket is all-reduced in place and each rank keeps its pieces. Moves about
//                   twice the bucket, needs no scratch. Better when the bucket sits in few ranks'
//                   slices (a bucket smaller than a slice: W*m up to W times the bucket).
// "auto" (the default) takes the reduce-scatter when W*m <= 2 * bucket, the all-reduce otherwise;
// every rank computes the same m from the layout, so all ranks issue the same collective.
//
// Memory: the bucket, the scratch and the shard are in the stage's memory (tandem/memory.h), so on
// a GPU every copy, add and collective is queued on the run's stream, in the order written here.
//
// overlap_comm (DeepSpeed's double-buffered ipg bucket): two buckets, and each reduction - packing,
// the collective, the adds into the shard, its scratch - is queued on the memory's side queue, so that
// on a GPU it runs while the backward's kernels fill the other bucket. Before a reduction is issued,
// the main stream joins the side queue: the reduction issued one bucket earlier, which read the bucket
// about to be refilled, is done by then. finish() joins too, so the shard is complete when the step
// reads it. The numerics do not change (the same reductions, in the same order on the side queue).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "shard_layout.hpp"
#include "tandem/memory.hpp"
#include "tandem/stage.hpp"

namespace tandem::stage {

enum class Reduction { Auto, ReduceScatter, AllReduce };

inline const char* const kReductionChoices[] = {"auto", "reduce_scatter", "all_reduce", nullptr};

// The one parameter every partitioned stage takes: how gradients reach the ranks that own them.
inline constexpr tandem_param_spec kReductionParam = sdk::optional_param(
    "reduction", TANDEM_PARAM_STRING, "\"auto\"",
    "how gradients reach their owners: reduce_scatter, all_reduce, or auto (the cheaper for each reduction); all "
    "give the same bits",
    -HUGE_VAL, HUGE_VAL, kReductionChoices);

inline Reduction parse_reduction(const std::string& name) {
  if (name == "auto") return Reduction::Auto;
  if (name == "reduce_scatter") return Reduction::ReduceScatter;
  if (name == "all_reduce") return Reduction::AllReduce;
  throw std::invalid_argument("reduction: '" + name + "' is not one of auto, reduce_scatter, all_reduce");
}

class GradientBuckets {
 public:
  // `bucket_size`: reduce_bucket_size in elements. The bucket holds at least the largest parameter
  // (a parameter is never split across buckets) and at most the whole model. `shard`: the rank's
  // accumulated gradient shard (layout.shard_numel() elements in `memory`), which flushes add into.
  // `overlap`: overlap_comm (two buckets, reductions on the side queue).
  GradientBuckets(const ShardLayout& layout, sdk::CommClient comm, int64_t bucket_size, Reduction how,
                  sdk::Memory memory, float* shard, bool overlap = false)
      : layout_(layout), comm_(comm), how_(how), memory_(memory), shard_(shard), overlap_(overlap) {
    size_t total = 0, largest = 0;
    for (const sdk::FlatParam& p : layout.flat().params()) {
      total += p.numel;
      largest = std::max(largest, p.numel);
    }
    const size_t wanted = bucket_size > 0 ? static_cast<size_t>(bucket_size) : 0;
    const size_t size = std::max(std::min(wanted, total), largest);
    buckets_[0] = sdk::Buffer<float>(memory_, size);
    if (overlap_) buckets_[1] = sdk::Buffer<float>(memory_, size);
  }

  size_t capacity() const { return buckets_[0].size(); }                        // of one bucket
  size_t footprint() const { return buckets_[0].size() + buckets_[1].size(); }  // elements held

  // One parameter's full gradient of this micro-step (its numel elements), copied into the bucket.
  // The bucket is reduced first if the parameter would not fit, and as soon as it is full.
  void add(uint32_t param, const float* grad) {
    const size_t n = layout_.param(param).numel;
    if (n == 0) return;
    if (fill_ > 0 && fill_ + n > capacity()) flush();
    memory_.copy(bucket().data() + fill_, grad, n * sizeof(float));
    entries_.push_back(Entry{param, fill_});
    fill_ += n;
    if (fill_ == capacity()) flush();
  }

  // Issues the reduction of what the bucket holds into the owners' shards. Collective (a no-op on
  // every rank alike when the bucket is empty, since every rank has added the same parameters).
  void flush() {
    if (fill_ == 0) return;
    if (!overlap_) {
      reduce();
    } else {
      memory_.join_side();  // the reduction that read the other bucket is done: it may be refilled
      sdk::SideQueue side(memory_);
      reduce();
      side.end();
      current_ ^= 1;
    }
    fill_ = 0;
    entries_.clear();
  }

  // Everything added so far reduced and in the shard (end of the backward).
  void finish() {
    flush();
    if (overlap_) memory_.join_side();
  }

 private:
  struct Entry {
    uint32_t param;
    size_t at;  // where its gradient starts in the bucket
  };
  struct Piece {
    int32_t owner;
    size_t group, first, count;  // elements [first, first + count) of the group's buffer
    size_t at;                   // where they are in the bucket
  };

  const sdk::Buffer<float>& bucket() const { return buckets_[current_]; }

  void reduce() {
    const int32_t world = layout_.world();
    if (world == 1) {
      for (const Entry& e : entries_) {
        const sdk::FlatParam& p = layout_.param(e.param);
        memory_.add(shard_ + layout_.shard_index(p.group, p.offset), bucket().data() + e.at, p.numel);
      }
    } else {
      cut_into_pieces();
      size_t m = 0;
      for (size_t c : counts_) m = std::max(m, c);
      const bool scatter = how_ == Reduction::ReduceScatter ||
                           (how_ == Reduction::Auto && static_cast<size_t>(world) * m <= 2 * fill_);
      if (scatter)
        reduce_scatter(m);
      else
        all_reduce();
    }
  }

  void cut_into_pieces() {
    pieces_.clear();
    counts_.assign(static_cast<size_t>(layout_.world()), 0);
    for (const Entry& e : entries_) {
      const sdk::FlatParam& p = layout_.param(e.param);
      layout_.for_each_owner_piece(p.group, p.offset, p.numel, [&](int32_t q, size_t first, size_t count, size_t done) {
        pieces_.push_back(Piece{q, p.group, first, count, e.at + done});
        counts_[static_cast<size_t>(q)] += count;
      });
    }
  }

  void add_to_shard(const Piece& piece, const float* reduced) {
    memory_.add(shard_ + layout_.shard_index(piece.group, piece.first), reduced, piece.count);
  }

  void reduce_scatter(size_t m) {
    const size_t world = static_cast<size_t>(layout_.world());
    sdk::Buffer<float> send(memory_, world * m), mine(memory_, m);  // zeroed scratch for this bucket only
    std::vector<size_t> cursor(world, 0);
    for (const Piece& piece : pieces_) {
      const size_t q = static_cast<size_t>(piece.owner);
      memory_.copy(send.data() + q * m + cursor[q], bucket().data() + piece.at, piece.count * sizeof(float));
      cursor[q] += piece.count;
    }
    comm_.reduce_scatter(send.data(), mine.data(), m, TANDEM_REDUCE_AVERAGE);
    size_t k = 0;  // this rank's pieces arrive in the order they were packed
    for (const Piece& piece : pieces_)
      if (piece.owner == layout_.rank()) {
        add_to_shard(piece, mine.data() + k);
        k += piece.count;
      }
  }

  void all_reduce() {
    comm_.all_reduce(bucket().data(), fill_, TANDEM_REDUCE_AVERAGE);
    for (const Piece& piece : pieces_)
      if (piece.owner == layout_.rank()) add_to_shard(piece, bucket().data() + piece.at);
  }

  const ShardLayout& layout_;
  sdk::CommClient comm_;
  Reduction how_;
  sdk::Memory memory_;
  float* shard_;
  bool overlap_;
  sdk::Buffer<float> buckets_[2];  // the second only with overlap
  int current_ = 0;                // the bucket being filled
  size_t fill_ = 0;
  std::vector<Entry> entries_;
  std::vector<Piece> pieces_;
  std::vector<size_t> counts_;
};

}  // namespace tandem::stage
