// The C++ layer for optimizer modules (optimizer.h). An optimizer is an ordinary class:
//
//   class MyOptimizer final : public tandem::sdk::Optimizer {
//    public:
//     explicit MyOptimizer(const tandem::sdk::Params& p) : Optimizer({"exp_avg"}), lr_(p.number("lr")) {}
//     uint32_t capabilities() const override { return TANDEM_OPTIMIZER_RUNS_ON_HOST; }
//     tandem::sdk::OptimizerHparams defaults() const override { return {lr_, 0.9, 0.999, 1e-8, 0.0}; }
//     void step(const tandem::sdk::OptimizerStep& s) override { ... state(0) ... }
//   };
//   TANDEM_OPTIMIZER_MODULE(my_optimizer, MyOptimizer, "1.0.0", "one line", kParams)
//
// The base class owns the state: one zeroed fp32 host buffer per name given to its constructor, one
// element per shard element, allocated by init_state() and handed to the host for checkpoints. The
// adapter checks each step's arguments (init_state done, shard size, step >= 1, gradient dtype,
// groups in order, disjoint and inside the shard) before step() sees them, so step() only computes.
//
// OptimizerClient is the calling side, for a stage or the host that holds an optimizer's table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tandem/call.hpp"
#include "tandem/dtype.hpp"
#include "tandem/module.hpp"
#include "tandem/optimizer.h"

namespace tandem::sdk {

// tandem_optimizer_hparams without its struct_size.
struct OptimizerHparams {
  double lr = 0.0;
  double beta1 = 0.0;
  double beta2 = 0.0;
  double eps = 0.0;
  double weight_decay = 0.0;
};

// A range [offset, offset + count) of the shard and its hyper-parameters for this step.
struct OptimizerGroup {
  size_t offset = 0;
  size_t count = 0;
  OptimizerHparams hparams;
};

// The shard's gradients, fp32 or bf16 (as raw bits; convert with bf16_to_float, which is exact).
class GradientView {
 public:
  GradientView(tandem_dtype dtype, const void* data) : dtype_(dtype), data_(data) {}

  tandem_dtype dtype() const { return dtype_; }
  // `count` gradients from element `offset`. Throws std::logic_error if the dtype is the other one.
  std::span<const float> f32(size_t offset, size_t count) const {
    if (dtype_ != TANDEM_DTYPE_F32) throw std::logic_error("GradientView::f32 on gradients of another dtype");
    return {static_cast<const float*>(data_) + offset, count};
  }
  std::span<const uint16_t> bf16(size_t offset, size_t count) const {
    if (dtype_ != TANDEM_DTYPE_BF16) throw std::logic_error("GradientView::bf16 on gradients of another dtype");
    return {static_cast<const uint16_t*>(data_) + offset, count};
  }

 private:
  tandem_dtype dtype_;
  const void* data_;
};

// A piece of one parameter in the shard (SDK 1.1; see tandem_optimizer_piece in optimizer.h).
struct OptimizerPiece {
  uint32_t param = 0;
  const char* name = "";
  std::vector<int64_t> shape;  // the parameter's true shape
  size_t param_offset = 0;     // the piece's first element within the parameter (row-major)
  size_t shard_offset = 0;     // where it starts in the shard
  size_t count = 0;

  size_t param_numel() const {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
  bool whole() const { return param_offset == 0 && count == param_numel(); }
};

// One step, checked. Elements of the shard outside every group are padding: leave them (and their
// bf16 copy and state) as they are.
struct OptimizerStep {
  int64_t step = 0;                               // 1-based count of steps taken, this one included
  std::span<float> params;                        // the fp32 master shard, updated in place
  GradientView grads{TANDEM_DTYPE_F32, nullptr};  // params.size() elements
  double grad_scale = 1.0;                        // multiply each gradient by this first
  std::span<const OptimizerGroup> groups;         // in order, disjoint, inside the shard
  std::span<uint16_t> params_bf16;                // empty, or params.size(): write float_to_bf16(updated param)
  // The parameters the shard holds, in shard order, each piece inside its parameter and the shard.
  // Empty when the stage was built against SDK 1.0, which did not pass them.
  std::span<const OptimizerPiece> pieces;
  // SDK 1.2: the stage's tile hooks (optimizer.h); call them through before_tile() / after_tile(),
  // which do nothing when the stage gave none. Thread-safe as the stage's hooks are.
  void* hook_ctx = nullptr;
  tandem_status (*before_hook)(void*, size_t, size_t, tandem_error*) = nullptr;
  tandem_status (*after_hook)(void*, size_t, size_t, tandem_error*) = nullptr;
  void before_tile(size_t offset, size_t count) const {
    if (before_hook != nullptr) call_checked([&](tandem_error* e) { return before_hook(hook_ctx, offset, count, e); });
  }
  void after_tile(size_t offset, size_t count) const {
    if (after_hook != nullptr) call_checked([&](tandem_error* e) { return after_hook(hook_ctx, offset, count, e); });
  }
  // SDK 1.2: where params, grads, params_bf16 and the state are (the optimizer's placement).
  tandem_placement where{sizeof(tandem_placement), TANDEM_DEVICE_CPU, 0, nullptr};
};

// One buffer of optimizer state: fp32, numel elements, owned by the instance.
struct StateBuffer {
  const char* name = nullptr;  // lives as long as the instance
  float* data = nullptr;
  size_t numel = 0;
  tandem_device_type device = TANDEM_DEVICE_CPU;
  int32_t device_index = 0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // TANDEM_OPTIMIZER_* flags; constant for the instance.
  virtual uint32_t capabilities() const = 0;
  // SDK 1.2: where the shard and the state live, before init_state. The default takes host memory
  // and refuses a device; an optimizer with RUNS_ON_DEVICE overrides it (and allocate_state).
  virtual void place(const tandem_placement& where) {
    if (where.device != TANDEM_DEVICE_CPU)
      throw Unsupported("this optimizer runs on host memory only (it does not declare TANDEM_OPTIMIZER_RUNS_ON_DEVICE)");
    where_ = where;
  }
  const tandem_placement& where() const { return where_; }
  // The hyper-parameters the config gave.
  virtual OptimizerHparams defaults() const = 0;
  virtual void step(const OptimizerStep& step) = 0;

  // Once per instance: a second call would invalidate the buffers the host may hold.
  void init_state(size_t numel) {
    if (has_state_) throw std::invalid_argument("init_state: the state was already allocated (once per instance)");
    allocate_state(numel);
    numel_ = numel;
    has_state_ = true;
  }
  bool has_state() const { return has_state_; }
  size_t numel() const { return numel_; }  // the shard size given to init_state (0 before)

  virtual uint32_t state_buffer_count() const { return static_cast<uint32_t>(names_.size()); }
  virtual StateBuffer state_buffer(uint32_t index) {
    if (index >= names_.size())
      throw std::invalid_argument("state_buffer: index " + std::to_string(index) + " of " +
                                  std::to_string(names_.size()) + " buffers");
    if (!has_state_) throw std::invalid_argument("state_buffer: init_state() was not called yet");
    return StateBuffer{names_[index].c_str(), buffers_[index].data(), numel_, TANDEM_DEVICE_CPU, 0};
  }

 protected:
  // `state_names`: the state buffers, in the order the host sees them (e.g. {"exp_avg", "exp_avg_sq"}).
  explicit Optimizer(std::vector<std::string> state_names) : names_(std::move(state_names)) {}

  // The default allocates one zeroed fp32 host buffer per state name. Override for other memory
  // (and override state_buffer() with it).
  virtual void allocate_state(size_t numel) { buffers_.assign(names_.size(), std::vector<float>(numel, 0.0f)); }
  // The base's buffer `index` (after init_state).
  std::span<float> state(size_t index) { return buffers_.at(index); }
  std::span<const float> state(size_t index) const { return buffers_.at(index); }

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<float>> buffers_;
  size_t numel_ = 0;
  bool has_state_ = false;

 protected:
  tandem_placement where_{sizeof(tandem_placement), TANDEM_DEVICE_CPU, 0, nullptr};
};

namespace optimizer_detail {

inline OptimizerHparams from_c(const tandem_optimizer_hparams& h) {
  return OptimizerHparams{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay};
}

// Reads the group table with the caller's stride (its struct_size: a newer host's groups may be
// larger) and checks that the groups lie in order, without overlap, inside a shard of `numel`.
inline std::vector<OptimizerGroup> read_groups(const tandem_optimizer_group* groups, uint32_t count, size_t numel) {
  if (count == 0) throw std::invalid_argument("optimizer step: no parameter groups");
  if (groups == nullptr)
    throw std::invalid_argument("optimizer step: group_count is " + std::to_string(count) + " but groups is null");
  const size_t stride = groups[0].struct_size;
  if (stride < sizeof(tandem_optimizer_group))
    throw std::invalid_argument("optimizer step: group struct_size " + std::to_string(stride) +
                                " is smaller than this module's " + std::to_string(sizeof(tandem_optimizer_group)));
  std::vector<OptimizerGroup> out;
  out.reserve(count);
  size_t end = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const auto& g =
        *reinterpret_cast<const tandem_optimizer_group*>(reinterpret_cast<const char*>(groups) + i * stride);
    const std::string name = "optimizer step: group " + std::to_string(i);
    if (g.struct_size != stride)
      throw std::invalid_argument(name + " has struct_size " + std::to_string(g.struct_size) + ", group 0 has " +
                                  std::to_string(stride));
    if (g.hparams.struct_size < sizeof(tandem_optimizer_hparams))
      throw std::invalid_argument(name + ": hparams struct_size " + std::to_string(g.hparams.struct_size) +
                                  " is smaller than this module's " + std::to_string(sizeof(tandem_optimizer_hparams)));
    if (g.count > numel || g.offset > numel - g.count)
      throw std::invalid_argument(name + " [" + std::to_string(g.offset) + ", +" + std::to_string(g.count) +
                                  ") lies outside the shard of " + std::to_string(numel) + " elements");
    if (g.offset < end)
      throw std::invalid_argument(name + " starts at " + std::to_string(g.offset) + ", before the end " +
                                  std::to_string(end) + " of the group before it (groups must be in order, disjoint)");
    end = g.offset + g.count;
    out.push_back(OptimizerGroup{g.offset, g.count, from_c(g.hparams)});
  }
  return out;
}

// The size of SDK 1.0's tandem_optimizer_step_args: everything before the pieces.
inline constexpr size_t kStepArgsSize10 = offsetof(tandem_optimizer_step_args, pieces);

// Reads the piece table with the caller's stride and checks each piece: inside its parameter, inside
// the shard, in shard order without overlap.
inline std::vector<OptimizerPiece> read_pieces(const tandem_optimizer_piece* pieces, uint32_t count, size_t numel) {
  std::vector<OptimizerPiece> out;
  if (count == 0) return out;
  if (pieces == nullptr)
    throw std::invalid_argument("optimizer step: piece_count is " + std::to_string(count) + " but pieces is null");
  const size_t stride = pieces[0].struct_size;
  if (stride < sizeof(tandem_optimizer_piece))
    throw std::invalid_argument("optimizer step: piece struct_size " + std::to_string(stride) +
                                " is smaller than this module's " + std::to_string(sizeof(tandem_optimizer_piece)));
  out.reserve(count);
  size_t end = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const auto& p =
        *reinterpret_cast<const tandem_optimizer_piece*>(reinterpret_cast<const char*>(pieces) + i * stride);
    const std::string name = "optimizer step: piece " + std::to_string(i);
    if (p.ndim > TANDEM_MAX_DIMS)
      throw std::invalid_argument(name + " has " + std::to_string(p.ndim) + " dimensions");
    OptimizerPiece piece{p.param, p.name != nullptr ? p.name : "", std::vector<int64_t>(p.shape, p.shape + p.ndim),
                         p.param_offset, p.shard_offset, p.count};
    for (int64_t d : piece.shape)
      if (d < 0) throw std::invalid_argument(name + " (" + piece.name + ") has a negative dimension");
    if (piece.count > piece.param_numel() || piece.param_offset > piece.param_numel() - piece.count)
      throw std::invalid_argument(name + " (" + piece.name + ") lies outside its parameter");
    if (piece.count > numel || piece.shard_offset > numel - piece.count || piece.shard_offset < end)
      throw std::invalid_argument(name + " (" + piece.name + ") lies outside the shard or before the piece before it");
    end = piece.shard_offset + piece.count;
    out.push_back(std::move(piece));
  }
  return out;
}

}  // namespace optimizer_detail

// Maps tandem_optimizer_vtable onto an Optimizer subclass; every call goes through guard().
template <class Class>
struct OptimizerAdapter {
  static Class& self(void* p) { return *static_cast<Class*>(p); }
  static const Class& self(const void* p) { return *static_cast<const Class*>(p); }

  static uint32_t capabilities(const void* p) noexcept {
    try {
      return self(p).capabilities();
    } catch (...) {
      return 0;
    }
  }
  // Writes struct_size = this module's sizeof (the fields it filled) and the fields.
  static tandem_status defaults(const void* p, tandem_optimizer_hparams* out, tandem_error* err) noexcept {
    return guard(err, [&] {
      if (out == nullptr) throw std::invalid_argument("optimizer defaults: null output");
      const OptimizerHparams h = self(p).defaults();
      *out = tandem_optimizer_hparams{sizeof(tandem_optimizer_hparams), h.lr, h.beta1, h.beta2, h.eps, h.weight_decay};
    });
  }
  static tandem_status init_state(void* p, size_t numel, tandem_error* err) noexcept {
    return guard(err, [&] { self(p).init_state(numel); });
  }
  static tandem_status step(void* p, const tandem_optimizer_step_args* a, tandem_error* err) noexcept {
    return guard(err, [&] {
      Class& o = self(p);
      if (a == nullptr) throw std::invalid_argument("optimizer step: null arguments");
      // The caller is a stage, which may be built against an older SDK than this module: its 1.0
      // arguments end before the pieces.
      if (a->struct_size < optimizer_detail::kStepArgsSize10)
        throw std::invalid_argument("optimizer step: args struct_size " + std::to_string(a->struct_size) +
                                    " is smaller than SDK 1.0's " + std::to_string(optimizer_detail::kStepArgsSize10));
      if (!o.has_state()) throw std::invalid_argument("optimizer step: init_state() was not called");
      if (a->numel != o.numel())
        throw std::invalid_argument("optimizer step: the shard has " + std::to_string(a->numel) +
                                    " elements, init_state() was given " + std::to_string(o.numel()));
      if (a->step < 1)
        throw std::invalid_argument("optimizer step: step must be >= 1 (1-based, this step included), got " +
                                    std::to_string(a->step));
      if (a->grad_dtype != TANDEM_DTYPE_F32 && a->grad_dtype != TANDEM_DTYPE_BF16)
        throw std::invalid_argument(std::string("optimizer step: gradients must be F32 or BF16, got ") +
                                    dtype_name(a->grad_dtype));
      if (a->numel > 0 && (a->params == nullptr || a->grads == nullptr))
        throw std::invalid_argument("optimizer step: null params or grads");
      const std::vector<OptimizerGroup> groups = optimizer_detail::read_groups(a->groups, a->group_count, a->numel);
      OptimizerStep s;
      s.step = a->step;
      s.params = std::span<float>(a->params, a->numel);
      s.grads = GradientView(static_cast<tandem_dtype>(a->grad_dtype), a->grads);
      s.grad_scale = a->grad_scale;
      s.groups = groups;
      if (a->params_bf16 != nullptr)
        s.params_bf16 = std::span<uint16_t>(static_cast<uint16_t*>(a->params_bf16), a->numel);
      std::vector<OptimizerPiece> pieces;
      if (TANDEM_HAS_FIELD(a->struct_size, tandem_optimizer_step_args, piece_count))
        pieces = optimizer_detail::read_pieces(a->pieces, a->piece_count, a->numel);
      s.pieces = pieces;
      if (TANDEM_HAS_FIELD(a->struct_size, tandem_optimizer_step_args, after_tile)) {
        s.hook_ctx = a->hook_ctx;
        s.before_hook = a->before_tile;
        s.after_hook = a->after_tile;
      }
      s.where = o.where();
      o.step(s);
    });
  }
  static tandem_status place(void* p, const tandem_placement* where, tandem_error* err) noexcept {
    return guard(err, [&] {
      if (where == nullptr) throw std::invalid_argument("optimizer place: null placement");
      if (self(p).has_state()) throw std::invalid_argument("optimizer place: after init_state (place comes first)");
      self(p).place(*where);
    });
  }
  static uint32_t state_buffer_count(const void* p) noexcept {
    try {
      return self(p).state_buffer_count();
    } catch (...) {
      return 0;
    }
  }
  // Writes *name and the view (struct_size = this module's sizeof, fp32, 1-D of numel).
  static tandem_status state_buffer(void* p, uint32_t index, const char** name, tandem_tensor_view* view,
                                    tandem_error* err) noexcept {
    return guard(err, [&] {
      if (name == nullptr || view == nullptr) throw std::invalid_argument("state_buffer: null output");
      const StateBuffer b = self(p).state_buffer(index);
      tandem_tensor_view v{};
      v.struct_size = sizeof(tandem_tensor_view);
      v.dtype = TANDEM_DTYPE_F32;
      v.device = static_cast<uint32_t>(b.device);
      v.device_index = b.device_index;
      v.data = b.data;
      v.ndim = 1;
      v.shape[0] = static_cast<int64_t>(b.numel);
      *view = v;
      *name = b.name;
    });
  }

  static constexpr tandem_optimizer_vtable vtable = {sizeof(tandem_optimizer_vtable),
                                                     &capabilities,
                                                     &defaults,
                                                     &init_state,
                                                     &step,
                                                     &state_buffer_count,
                                                     &state_buffer,
                                                     &place};
};

// The calling side: an optimizer instance and its table, with failures thrown as guard() caught
// them (call.hpp). Does not own the instance. The one calling wrapper of an optimizer: the host's
// tests and tools hold one, and a stage is given one in sdk::StageSetup::optimizer (stage.hpp),
// default-constructed and empty (false) for a forward-only stage.
class OptimizerClient {
 public:
  struct NamedBuffer {
    std::string name;
    tandem_tensor_view view;
    std::span<float> f32() const {  // host buffers only
      return {static_cast<float*>(view.data), static_cast<size_t>(view.shape[0])};
    }
  };

  OptimizerClient() = default;
  OptimizerClient(void* instance, const tandem_optimizer_vtable* vtable) : self_(instance), vt_(vtable) {
    if (instance == nullptr || vtable == nullptr)
      throw std::invalid_argument("OptimizerClient: null instance or table");
  }

  explicit operator bool() const { return self_ != nullptr; }
  uint32_t capabilities() const { return vt_->capabilities(self_); }
  // Where the shard and the state live (SDK 1.2), before init_state. An optimizer built against an
  // older SDK has no place(): it runs on host memory only.
  void place(const tandem_placement& where) const {
    const bool has = TANDEM_HAS_FIELD(vt_->struct_size, tandem_optimizer_vtable, place) && vt_->place != nullptr;
    if (!has) {
      if (where.device == TANDEM_DEVICE_CPU) return;
      throw Unsupported("the optimizer was built against an SDK older than 1.2 and runs on host memory only");
    }
    call_checked([&](tandem_error* e) { return vt_->place(self_, &where, e); });
  }
  OptimizerHparams defaults() const {
    tandem_optimizer_hparams h{};
    h.struct_size = sizeof(h);
    call_checked([&](tandem_error* e) { return vt_->defaults(self_, &h, e); });
    return optimizer_detail::from_c(h);
  }
  void init_state(size_t numel) {
    call_checked([&](tandem_error* e) { return vt_->init_state(self_, numel, e); });
  }
  void step(const tandem_optimizer_step_args& args) {
    call_checked([&](tandem_error* e) { return vt_->step(self_, &args, e); });
  }
  uint32_t state_buffer_count() const { return vt_->state_buffer_count(self_); }
  NamedBuffer state_buffer(uint32_t index) {
    const char* name = nullptr;
    tandem_tensor_view view{};
    view.struct_size = sizeof(view);
    call_checked([&](tandem_error* e) { return vt_->state_buffer(self_, index, &name, &view, e); });
    return NamedBuffer{name != nullptr ? name : "", view};
  }
  std::vector<NamedBuffer> state_buffers() {
    std::vector<NamedBuffer> out;
    for (uint32_t i = 0, n = state_buffer_count(); i < n; ++i) out.push_back(state_buffer(i));
    return out;
  }
  // Bytes of every state buffer together (a stage's memory report).
  uint64_t state_bytes() const {
    uint64_t total = 0;
    for (uint32_t i = 0, n = state_buffer_count(); i < n; ++i) {
      const char* name = nullptr;
      tandem_tensor_view v{};
      v.struct_size = sizeof(v);
      call_checked([&](tandem_error* e) { return vt_->state_buffer(self_, i, &name, &v, e); });
      uint64_t count = 1;
      for (uint32_t d = 0; d < v.ndim; ++d) count *= static_cast<uint64_t>(v.shape[d]);
      total += count * dtype_size(v.dtype);
    }
    return total;
  }

  void* instance() const { return self_; }
  const tandem_optimizer_vtable* vtable() const { return vt_; }

 private:
  void* self_ = nullptr;
  const tandem_optimizer_vtable* vt_ = nullptr;
};

}  // namespace tandem::sdk

#define TANDEM_OPTIMIZER_MODULE(IDENT, CLASS, VERSION, SUMMARY, PARAMS)                                               \
  TANDEM_DEFINE_MODULE_(TANDEM_KIND_OPTIMIZER, IDENT, CLASS, ::tandem::sdk::OptimizerAdapter<CLASS>::vtable, VERSION, \
                        SUMMARY, PARAMS)
