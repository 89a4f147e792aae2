// nccl: a communicator for one rank per process, each on its own GPU (the CUDA backend's ranks).
//
// The host reads the launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT:
// host/src/runtime/launch_env.hpp) and gives it here as params; rank 0 makes NCCL's unique id and
// hands it to the others through the TCP rendezvous (tcp_rendezvous.hpp), then every rank joins the
// NCCL communicator. A world of one needs no rendezvous.
//
// Collectives take device memory and are queued on the stream the host set (set_stream: the rank's
// compute stream), returning before they are done, as comm.h says for a device communicator;
// reductions are NCCL's (sum order its own: deterministic for one world size and topology).
//   all_reduce / reduce_scatter   F32, F64, BF16, F16, I32, I64 with SUM, AVERAGE (ncclAvg), MAX
//   all_gather / broadcast        any dtype (moved as bytes)
//   barrier                       a one-element all-reduce, then the stream is synchronised
//   abort                         ncclCommAbort: later collectives of this rank fail with the message
// Liveness: with several ranks the rendezvous' connections stay open and carry heartbeats (Watch in
// tcp_rendezvous.hpp); a rank that dies or stops answering for timeout_seconds is named on the others,
// which abort their communicator (so that a collective waiting for it returns) and fail their next
// call with that name: never a silent hang.
// NVLink multicast (NVLS) stays off unless NCCL_NVLS_ENABLE says otherwise: it is set to 0 here
// before the communicator is made, as in every environment tandem launch builds.
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "tandem/comm.hpp"
#include "tcp_rendezvous.hpp"

namespace {

const tandem_param_spec kParams[] = {
    tandem::sdk::optional_param("device", TANDEM_PARAM_INT, "0", "the CUDA device of this rank (LOCAL_RANK)", 0, 1 << 16),
    tandem::sdk::optional_param("rank", TANDEM_PARAM_INT, "0", "this process's rank (RANK)", 0, 1 << 20),
    tandem::sdk::optional_param("world_size", TANDEM_PARAM_INT, "1", "ranks in the run (WORLD_SIZE)", 1, 1 << 20),
    tandem::sdk::optional_param("master_addr", TANDEM_PARAM_STRING, "\"127.0.0.1\"",
                                "where rank 0 serves the rendezvous (MASTER_ADDR)"),
    tandem::sdk::optional_param("master_port", TANDEM_PARAM_INT, "29500", "its port (MASTER_PORT)", 1, 65535),
    tandem::sdk::optional_param("timeout_seconds", TANDEM_PARAM_FLOAT, "300",
                                "how long the ranks wait for each other at the rendezvous, and for a heartbeat of a "
                                "rank before it counts as lost",
                                0.001, 1e6),
    tandem::sdk::optional_param("heartbeat_seconds", TANDEM_PARAM_FLOAT, "1", "between two heartbeats of a rank",
                                0.001, 3600),
};

[[noreturn]] void fail_nccl(ncclResult_t r, const std::string& what) {
  throw std::runtime_error("nccl: " + what + ": " + ncclGetErrorString(r) + " (" + ncclGetLastError(nullptr) + ")");
}
void check(ncclResult_t r, const std::string& what) {
  if (r != ncclSuccess) fail_nccl(r, what);
}
void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess)
    throw std::runtime_error("nccl: " + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

ncclDataType_t nccl_type(tandem_dtype dtype, const char* call) {
  switch (dtype) {
    case TANDEM_DTYPE_F32: return ncclFloat32;
    case TANDEM_DTYPE_F64: return ncclFloat64;
    case TANDEM_DTYPE_BF16: return ncclBfloat16;
    case TANDEM_DTYPE_F16: return ncclFloat16;
    case TANDEM_DTYPE_I32: return ncclInt32;
    case TANDEM_DTYPE_I64: return ncclInt64;
    default:
      throw tandem::sdk::Unsupported(std::string(call) + ": nccl does not reduce " + tandem::sdk::dtype_name(dtype));
  }
}

ncclRedOp_t nccl_op(tandem_reduce_op op) {
  switch (op) {
    case TANDEM_REDUCE_SUM: return ncclSum;
    case TANDEM_REDUCE_AVERAGE: return ncclAvg;
    default: return ncclMax;
  }
}

class NcclComm final : public tandem::sdk::Communicator {
 public:
  explicit NcclComm(const tandem::sdk::Params& p)
      : device_(static_cast<int>(p.integer("device"))),
        rank_(static_cast<int32_t>(p.integer("rank"))),
        world_(static_cast<int32_t>(p.integer("world_size"))) {
    if (rank_ >= world_)
      throw std::invalid_argument("nccl: rank " + std::to_string(rank_) + " is outside a world of " +
                                  std::to_string(world_));
    setenv("NCCL_NVLS_ENABLE", "0", 0);  // multicast off unless the environment decided (see above)
    check(cudaSetDevice(device_), "cudaSetDevice(" + std::to_string(device_) + ")");
    ncclUniqueId id{};
    const tandem::rendezvous::Endpoint at{p.string("master_addr"), static_cast<uint16_t>(p.integer("master_port"))};
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(p.number("timeout_seconds") * 1000));
    tandem::rendezvous::Links links;
    if (rank_ == 0) {
      check(ncclGetUniqueId(&id), "ncclGetUniqueId");
      const auto* bytes = reinterpret_cast<const uint8_t*>(&id);
      tandem::rendezvous::serve(at, world_, std::vector<uint8_t>(bytes, bytes + sizeof id), timeout, &links);
    } else {
      const std::vector<uint8_t> blob = tandem::rendezvous::join(at, rank_, world_, sizeof id, timeout, &links);
      std::memcpy(&id, blob.data(), sizeof id);
    }
    check(ncclCommInitRank(&comm_, world_, id, rank_),
          "joining the communicator as rank " + std::to_string(rank_) + " of " + std::to_string(world_));
    if (world_ > 1) {
      const auto beat = std::chrono::milliseconds(static_cast<int64_t>(p.number("heartbeat_seconds") * 1000));
      watch_ = std::make_unique<tandem::rendezvous::Watch>(
          std::move(links), rank_, beat, timeout, [this](int32_t lost, const std::string& why) {
            const std::string message = "rank " + std::to_string(lost) + " " + why;
            std::fprintf(stderr, "tandem: nccl rank %d: %s; aborting the communicator\n", rank_, message.c_str());
            abort(0, message);
          });
    }
    check(cudaMalloc(&flag_, sizeof(float)), "cudaMalloc");
  }
  ~NcclComm() override {
    watch_.reset();  // goodbye to the others first: a clean exit is not a lost rank
    (void)cudaSetDevice(device_);
    if (comm_ != nullptr) (void)(aborted_ ? ncclSuccess : ncclCommDestroy(comm_));
    if (flag_ != nullptr) (void)cudaFree(flag_);
  }

  int32_t world_size() const override { return world_; }
  int32_t local_rank_count() const override { return 1; }
  int32_t first_rank() const override { return rank_; }
  tandem_device_type memory() const override { return TANDEM_DEVICE_CUDA; }
  void set_stream(int32_t, void* stream) override { stream_ = static_cast<cudaStream_t>(stream); }

  void all_reduce(int32_t, void* buffer, size_t count, tandem_dtype dtype, tandem_reduce_op op) override {
    ready("all_reduce");
    check(ncclAllReduce(buffer, buffer, count, nccl_type(dtype, "all_reduce"), nccl_op(op), comm_, stream_),
          "all_reduce of " + std::to_string(count));
  }
  void reduce_scatter(int32_t, const void* input, void* output, size_t count, tandem_dtype dtype,
                      tandem_reduce_op op) override {
    ready("reduce_scatter");
    check(ncclReduceScatter(input, output, count, nccl_type(dtype, "reduce_scatter"), nccl_op(op), comm_, stream_),
          "reduce_scatter of " + std::to_string(count));
  }
  void all_gather(int32_t, const void* input, void* output, size_t count, tandem_dtype dtype) override {
    ready("all_gather");
    const size_t bytes = count * tandem::sdk::dtype_size(dtype);
    check(ncclAllGather(input, output, bytes, ncclUint8, comm_, stream_), "all_gather of " + std::to_string(bytes) + " bytes");
  }
  void broadcast(int32_t, void* buffer, size_t bytes, int32_t root) override {
    ready("broadcast");
    check(ncclBroadcast(buffer, buffer, bytes, ncclUint8, root, comm_, stream_),
          "broadcast of " + std::to_string(bytes) + " bytes from rank " + std::to_string(root));
  }
  void barrier(int32_t) override {
    ready("barrier");
    check(ncclAllReduce(flag_, flag_, 1, ncclFloat32, ncclSum, comm_, stream_), "barrier");
    check(cudaStreamSynchronize(stream_), "barrier");
  }
  void abort(int32_t, std::string_view message) noexcept override {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (aborted_) return;
    aborted_ = true;
    abort_message_ = std::string(message);
    (void)ncclCommAbort(comm_);
  }

 private:
  void ready(const char* call) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (aborted_) throw std::runtime_error(std::string("nccl: ") + call + " after this rank failed: " + abort_message_);
  }

  int device_;
  int32_t rank_, world_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  float* flag_ = nullptr;  // the barrier's element
  std::mutex mutex_;
  bool aborted_ = false;
  std::string abort_message_;
  std::unique_ptr<tandem::rendezvous::Watch> watch_;  // several ranks: their heartbeats
};

}  // namespace

TANDEM_COMM_MODULE(nccl, NcclComm, "1.0.0",
                   "one rank per process on its GPU: NCCL collectives on the rank's stream, TCP rendezvous at "
                   "MASTER_ADDR:MASTER_PORT",
                   kParams)
