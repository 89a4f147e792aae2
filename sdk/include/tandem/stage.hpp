// The C++ layer for stage modules (ZeRO stages). A stage is an ordinary class deriving from
// tandem::sdk::Stage; it talks to the communicator and the optimizer through CommClient and
// OptimizerClient, which turn failed statuses into exceptions. Register it with
// TANDEM_STAGE_MODULE(name, Class, "1.0.0", "summary", kParams).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tandem/call.hpp"
#include "tandem/comm.hpp"
#include "tandem/memory.hpp"
#include "tandem/module.hpp"
#include "tandem/optimizer.hpp"
#include "tandem/stage.h"
#include "tandem/tensor.hpp"

namespace tandem::sdk {

// What a stage calls the communicator and the optimizer through: the one calling wrapper of each
// kind (comm.hpp, optimizer.hpp). The earlier names stay for stages written against them.
using CommHandle [[deprecated("use tandem::sdk::CommClient (tandem/comm.hpp)")]] = CommClient;
using OptimizerHandle [[deprecated("use tandem::sdk::OptimizerClient (tandem/optimizer.hpp)")]] = OptimizerClient;

// tandem_stage_setup in C++ terms.
struct StageSetup {
  int32_t rank = 0;
  int32_t world_size = 1;
  std::vector<tandem_model_param> params;  // names point into the host's memory, valid for the instance
  int32_t layer_count = 0;
  std::vector<uint32_t> param_groups;
  uint32_t group_count = 1;
  CommClient comm;            // this rank's communicator
  OptimizerClient optimizer;  // this rank's optimizer; empty (false) for a forward-only stage
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
      cpp.comm = CommClient(s->comm, s->comm_vtable, s->local_rank);
      if (s->optimizer != nullptr) cpp.optimizer = OptimizerClient(s->optimizer, s->optimizer_vtable);
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
