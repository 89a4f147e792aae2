// The C++ layer for stage modules (ZeRO stages). A stage is an ordinary class deriving from
// tandem::sdk::Stage; it talks to the communicator and the optimizer through CommHandle and
// OptimizerHandle, which turn failed statuses into exceptions. Register it with
// TANDEM_STAGE_MODULE(name, Class, "1.0.0", "summary", kParams).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tandem/call.hpp"
#include "tandem/memory.hpp"
#include "tandem/module.hpp"
#include "tandem/stage.h"
#include "tandem/tensor.hpp"

namespace tandem::sdk {


// One rank's view of the communicator (not owning).
class CommHandle {
 public:
  CommHandle() = default;
  CommHandle(void* comm, const tandem_comm_vtable* vtable, int32_t local_rank)
      : comm_(comm), vt_(vtable), local_rank_(local_rank) {}

  int32_t world_size() const { return vt_->world_size(comm_); }
  int32_t rank() const { return vt_->first_rank(comm_) + local_rank_; }
  // Where the collectives' buffers are (SDK 1.2; an older communicator takes host memory).
  tandem_device_type memory() const {
    if (!TANDEM_HAS_FIELD(vt_->struct_size, tandem_comm_vtable, memory) || vt_->memory == nullptr)
      return TANDEM_DEVICE_CPU;
    return static_cast<tandem_device_type>(vt_->memory(comm_));
  }

  void all_reduce(float* buffer, size_t count, tandem_reduce_op op) {
    call_checked([&](tandem_error* err) { return vt_->all_reduce(comm_, local_rank_, buffer, count, TANDEM_DTYPE_F32, op, err); });
  }
  void all_reduce(double* buffer, size_t count, tandem_reduce_op op) {
    call_checked([&](tandem_error* err) { return vt_->all_reduce(comm_, local_rank_, buffer, count, TANDEM_DTYPE_F64, op, err); });
  }
  // input: world_size * count floats; output: this rank's reduced slice.
  void reduce_scatter(const float* input, float* output, size_t count, tandem_reduce_op op) {
    call_checked([&](tandem_error* err) { return vt_->reduce_scatter(comm_, local_rank_, input, output, count, TANDEM_DTYPE_F32, op, err); });
  }
  void all_gather(const void* input, void* output, size_t count, tandem_dtype dtype) {
    call_checked([&](tandem_error* err) { return vt_->all_gather(comm_, local_rank_, input, output, count, dtype, err); });
  }
  void broadcast(void* buffer, size_t bytes, int32_t root) {
    call_checked([&](tandem_error* err) { return vt_->broadcast(comm_, local_rank_, buffer, bytes, root, err); });
  }
  void barrier() {
    call_checked([&](tandem_error* err) { return vt_->barrier(comm_, local_rank_, err); });
  }

 private:
  void* comm_ = nullptr;
  const tandem_comm_vtable* vt_ = nullptr;
  int32_t local_rank_ = 0;
};

// The rank's optimizer (not owning); absent for an inference-only stage.
class OptimizerHandle {
 public:
  OptimizerHandle() = default;
  OptimizerHandle(void* optimizer, const tandem_optimizer_vtable* vtable) : opt_(optimizer), vt_(vtable) {}

  explicit operator bool() const { return opt_ != nullptr; }
  uint32_t capabilities() const { return vt_->capabilities(opt_); }
  // Where the shard and the state live (SDK 1.2), before init_state. An optimizer built against an
  // older SDK has no place(): it runs on host memory only.
  void place(const tandem_placement& where) const {
    const bool has = TANDEM_HAS_FIELD(vt_->struct_size, tandem_optimizer_vtable, place) && vt_->place != nullptr;
    if (!has) {
      if (where.device == TANDEM_DEVICE_CPU) return;
      throw Unsupported("the optimizer was built against an SDK older than 1.2 and runs on host memory only");
    }
    call_checked([&](tandem_error* err) { return vt_->place(opt_, &where, err); });
  }
  void init_state(size_t numel) {
    call_checked([&](tandem_error* err) { return vt_->init_state(opt_, numel, err); });
  }
  void step(const tandem_optimizer_step_args& args) {
    call_checked([&](tandem_error* err) { return vt_->step(opt_, &args, err); });
  }
  uint64_t state_bytes() {
    uint64_t total = 0;
    const uint32_t n = vt_->state_buffer_count(opt_);
    for (uint32_t i = 0; i < n; ++i) {
      const char* name = nullptr;
      tandem_tensor_view v{};
      v.struct_size = sizeof v;
      call_checked([&](tandem_error* err) { return vt_->state_buffer(opt_, i, &name, &v, err); });
      uint64_t count = 1;
      for (uint32_t d = 0; d < v.ndim; ++d) count *= static_cast<uint64_t>(v.shape[d]);
      total += count * dtype_size(v.dtype);
    }
    return total;
  }

 private:
  void* opt_ = nullptr;
  const tandem_optimizer_vtable* vt_ = nullptr;
};

// tandem_stage_setup in C++ terms.
struct StageSetup {
  int32_t rank = 0;
  int32_t world_size = 1;
  std::vector<tandem_model_param> params;  // names point into the host's memory, valid for the instance
  int32_t layer_count = 0;
  std::vector<uint32_t> param_groups;
  uint32_t group_count = 1;
  CommHandle comm;
  OptimizerHandle optimizer;
  tandem_stage_options options{};
  Memory memory;  // SDK 1.2: where the stage keeps its buffers (host memory from an older host)
};

class Stage {
 public:
  virtual ~Stage() = default;

  virtual void setup(const StageSetup& setup) = 0;
  virtual void set_param(uint32_t index, const tandem_tensor_view& full) = 0;
  virtual void get_param(uint32_t index, tandem_tensor_view& out) = 0;
  // tandem_param_access, as virtual functions.
  virtual void acquire(int32_t layer, tandem_tensor_view* params) = 0;
  virtual void release(int32_t layer) = 0;
  virtual void acquire_grads(int32_t layer, tandem_tensor_view* grads) = 0;
  virtual void grads_done(int32_t layer) = 0;
  virtual void end_backward() = 0;
  virtual double grad_norm() = 0;
  virtual void step(const tandem_stage_step_args& args) = 0;
  virtual void zero_grads() = 0;
  virtual tandem_stage_memory memory() const = 0;
  virtual void master_shard(uint32_t group, tandem_tensor_view& shard, uint64_t& offset, uint64_t& padded_numel) = 0;
};

template <class Class>
struct StageAdapter {
  // The factory's product: the author's stage and the access table that points back at it.
  struct Holder {
    explicit Holder(const Params& p) : stage(p) {
      access = tandem_param_access{sizeof(tandem_param_access), this, &acquire, &release, &acquire_grads, &grads_done};
    }
    Class stage;
    tandem_param_access access{};
  };
  static Holder& self(void* p) { return *static_cast<Holder*>(p); }
  static const Holder& self(const void* p) { return *static_cast<const Holder*>(p); }

  static tandem_status setup(void* p, const tandem_stage_setup* s, tandem_error* err) noexcept {
    return guard(err, [&] {
      if (s == nullptr) throw std::invalid_argument("setup: null argument");
      StageSetup cpp;
      cpp.rank = s->rank;
      cpp.world_size = s->world_size;
      cpp.params.assign(s->params, s->params + s->param_count);
      cpp.layer_count = s->layer_count;
      cpp.param_groups.assign(s->param_groups, s->param_groups + s->param_count);
      cpp.group_count = s->group_count;
      cpp.comm = CommHandle(s->comm, s->comm_vtable, s->local_rank);
      if (s->optimizer != nullptr) cpp.optimizer = OptimizerHandle(s->optimizer, s->optimizer_vtable);
      cpp.options = s->options;
      if (TANDEM_HAS_FIELD(s->struct_size, tandem_stage_setup, memory)) cpp.memory = Memory(s->memory);
      self(p).stage.setup(cpp);
    });
  }
  static tandem_status set_param(void* p, uint32_t i, const tandem_tensor_view* full, tandem_error* err) noexcept {
    return guard(err, [&] { self(p).stage.set_param(i, *full); });
  }
  static tandem_status get_param(void* p, uint32_t i, tandem_tensor_view* out, tandem_error* err) noexcept {
    return guard(err, [&] { self(p).stage.get_param(i, *out); });
  }
  static const tandem_param_access* param_access(void* p) noexcept { return &self(p).access; }
  static tandem_status acquire(void* ctx, int32_t layer, tandem_tensor_view* params, tandem_error* err) noexcept {
    return guard(err, [&] { static_cast<Holder*>(ctx)->stage.acquire(layer, params); });
  }
  static tandem_status release(void* ctx, int32_t layer, tandem_error* err) noexcept {
    return guard(err, [&] { static_cast<Holder*>(ctx)->stage.release(layer); });
  }
  static tandem_status acquire_grads(void* ctx, int32_t layer, tandem_tensor_view* grads, tandem_error* err) noexcept {
    return guard(err, [&] { static_cast<Holder*>(ctx)->stage.acquire_grads(layer, grads); });
  }
  static tandem_status grads_done(void* ctx, int32_t layer, tandem_error* err) noexcept {
    return guard(err, [&] { static_cast<Holder*>(ctx)->stage.grads_done(layer); });
  }
  static tandem_status end_backward(void* p, tandem_error* err) noexcept {
    return guard(err, [&] { self(p).stage.end_backward(); });
  }
  static tandem_status grad_norm(void* p, double* norm, tandem_error* err) noexcept {
    return guard(err, [&] { *norm = self(p).stage.grad_norm(); });
  }
  static tandem_status step(void* p, const tandem_stage_step_args* args, tandem_error* err) noexcept {
    return guard(err, [&] { self(p).stage.step(*args); });
  }
  static tandem_status zero_grads(void* p, tandem_error* err) noexcept {
    return guard(err, [&] { self(p).stage.zero_grads(); });
  }
  static tandem_status memory(const void* p, tandem_stage_memory* out, tandem_error* err) noexcept {
    return guard(err, [&] { *out = self(p).stage.memory(); });
  }
  static tandem_status master_shard(void* p, uint32_t group, tandem_tensor_view* shard, uint64_t* offset,
                                    uint64_t* padded, tandem_error* err) noexcept {
    return guard(err, [&] { self(p).stage.master_shard(group, *shard, *offset, *padded); });
  }

  static constexpr tandem_stage_vtable vtable = {sizeof(tandem_stage_vtable), &setup, &set_param, &get_param,
                                                 &param_access, &end_backward, &grad_norm, &step, &zero_grads,
                                                 &memory, &master_shard};
};

}  // namespace tandem::sdk

#define TANDEM_STAGE_MODULE(IDENT, CLASS, VERSION, SUMMARY, PARAMS)                                \
  TANDEM_DEFINE_MODULE_(TANDEM_KIND_STAGE, IDENT, ::tandem::sdk::StageAdapter<CLASS>::Holder,     \
                        ::tandem::sdk::StageAdapter<CLASS>::vtable, VERSION, SUMMARY, PARAMS)
