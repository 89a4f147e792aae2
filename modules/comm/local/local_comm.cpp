// local: a communicator for N ranks that are threads of one process (the CPU backend's ranks).
//
// One instance serves every rank; each rank's thread calls with its local rank (= its global rank:
// first_rank is 0). Ranks meet in a Rendezvous (rendezvous.hpp) for each collective, then each rank
// does its own share of the work, reading and writing the other ranks' buffers directly, in parallel:
//   all_reduce      rank r reduces slice r of the elements (slice_begin) over all ranks' buffers and
//                   writes the result into that slice of every rank's buffer
//   reduce_scatter  rank r reduces slice r of the inputs into its own output
//   all_gather      rank r copies every rank's input into its own output
//   broadcast       every rank but the root copies the root's buffer into its own
//   barrier         the meeting alone
// Reductions follow reduce.hpp's fixed order (rank 0 first, AVERAGE = sum times 1/N): bitwise
// reproducible, and reduce_scatter's slice r equals all_reduce's slice r bit for bit. F32 and F64
// reduce; all_gather and broadcast move any dtype as bytes.
#include <chrono>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "reduce.hpp"
#include "rendezvous.hpp"
#include "tandem/comm.hpp"

namespace {

using tandem_local_comm::Collective;
using tandem_local_comm::Departure;
using tandem_local_comm::Post;

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("world_size", TANDEM_PARAM_INT, "1", "number of ranks (threads) in the group", 1.0,
                                4096.0),
    tandem::sdk::optional_param("timeout_seconds", TANDEM_PARAM_FLOAT, "300",
                                "how long a rank waits for the others to reach a collective before the group fails, "
                                "naming the ranks that did not arrive",
                                0.001, 1e6),
};

std::string label_of(const tandem::sdk::Params& p) {
  const std::string name = p.instance_name();
  return name.empty() ? std::string("local comm") : "local comm '" + name + "'";
}

class LocalComm final : public tandem::sdk::Communicator {
 public:
  explicit LocalComm(const tandem::sdk::Params& p)
      : ranks_(static_cast<int32_t>(p.integer("world_size"))),
        label_(label_of(p)),
        rendezvous_(ranks_, std::chrono::duration<double>(p.number("timeout_seconds")), label_),
        scratch_(static_cast<size_t>(ranks_), Scratch(static_cast<size_t>(ranks_))) {}

  int32_t world_size() const override { return ranks_; }
  int32_t local_rank_count() const override { return ranks_; }
  int32_t first_rank() const override { return 0; }

  void all_reduce(int32_t rank, void* buffer, size_t count, tandem_dtype dtype, tandem_reduce_op op) override {
    check_reduction("all_reduce", dtype);
    Post post;
    post.kind = Collective::AllReduce;
    post.count = count;
    post.dtype = dtype;
    post.op = op;
    post.output = buffer;
    const std::span<const Post> posts = rendezvous_.arrive(rank, post);
    const Departure leave(rendezvous_);
    Scratch& s = scratch_[static_cast<size_t>(rank)];  // this rank's own: nothing allocated here
    for (size_t r = 0; r < posts.size(); ++r) s.inputs[r] = s.outputs[r] = posts[r].output;
    const size_t begin = tandem_local_comm::slice_begin(count, ranks_, rank);
    const size_t end = tandem_local_comm::slice_begin(count, ranks_, rank + 1);
    reduce(dtype, s.inputs.data(), begin, end - begin, op, s.outputs.data(), s.outputs.size(), begin);
  }

  void reduce_scatter(int32_t rank, const void* input, void* output, size_t count, tandem_dtype dtype,
                      tandem_reduce_op op) override {
    check_reduction("reduce_scatter", dtype);
    Post post;
    post.kind = Collective::ReduceScatter;
    post.count = count;
    post.dtype = dtype;
    post.op = op;
    post.input = input;
    post.output = output;
    const std::span<const Post> posts = rendezvous_.arrive(rank, post);
    const Departure leave(rendezvous_);
    Scratch& s = scratch_[static_cast<size_t>(rank)];
    for (size_t r = 0; r < posts.size(); ++r) s.inputs[r] = posts[r].input;
    void* const mine[1] = {output};
    reduce(dtype, s.inputs.data(), count * static_cast<size_t>(rank), count, op, mine, 1, 0);
  }

  void all_gather(int32_t rank, const void* input, void* output, size_t count, tandem_dtype dtype) override {
    Post post;
    post.kind = Collective::AllGather;
    post.count = count;
    post.dtype = dtype;
    post.input = input;
    post.output = output;
    const std::span<const Post> posts = rendezvous_.arrive(rank, post);
    const Departure leave(rendezvous_);
    const size_t bytes = count * tandem::sdk::dtype_size(dtype);
    char* const out = static_cast<char*>(output);
    for (int32_t r = 0; r < ranks_; ++r) {
      char* const slice = out + bytes * static_cast<size_t>(r);
      const void* const from = posts[static_cast<size_t>(r)].input;
      // The own input may be the own slice (in place); it may not overlap another rank's.
      if (from != slice && bytes > 0) std::memmove(slice, from, bytes);
    }
  }

  void broadcast(int32_t rank, void* buffer, size_t bytes, int32_t root) override {
    Post post;
    post.kind = Collective::Broadcast;
    post.count = bytes;
    post.root = root;
    post.output = buffer;
    const std::span<const Post> posts = rendezvous_.arrive(rank, post);
    const Departure leave(rendezvous_);
    const void* const from = posts[static_cast<size_t>(root)].output;
    if (rank != root && from != buffer && bytes > 0) std::memcpy(buffer, from, bytes);
  }

  void barrier(int32_t rank) override {
    Post post;
    post.kind = Collective::Barrier;
    rendezvous_.arrive(rank, post);
  }

  void abort(int32_t rank, std::string_view message) noexcept override { rendezvous_.abort(rank, message); }

 private:
  void check_reduction(const char* call, tandem_dtype dtype) const {
    if (dtype != TANDEM_DTYPE_F32 && dtype != TANDEM_DTYPE_F64)
      throw tandem::sdk::Unsupported(label_ + ": " + call + " reduces F32 and F64; got " +
                                     tandem::sdk::dtype_name(dtype));
  }

  void reduce(tandem_dtype dtype, const void* const* inputs, size_t begin, size_t n, tandem_reduce_op op,
              void* const* outputs, size_t output_count, size_t out_begin) const {
    if (dtype == TANDEM_DTYPE_F32)
      tandem_local_comm::reduce_range<float>(inputs, ranks_, begin, n, op, outputs, output_count, out_begin);
    else
      tandem_local_comm::reduce_range<double>(inputs, ranks_, begin, n, op, outputs, output_count, out_begin);
  }

  // One per rank: the ranks' buffers of the collective in progress, so that a collective allocates
  // nothing between arriving and departing.
  struct Scratch {
    explicit Scratch(size_t ranks) : inputs(ranks), outputs(ranks) {}
    std::vector<const void*> inputs;
    std::vector<void*> outputs;
  };

  const int32_t ranks_;
  const std::string label_;
  tandem_local_comm::Rendezvous rendezvous_;
  std::vector<Scratch> scratch_;
};

}  // namespace

TANDEM_COMM_MODULE(local, LocalComm, "1.0.0",
                   "N ranks as threads of one process: fixed-order, bitwise reproducible collectives", kParams)
