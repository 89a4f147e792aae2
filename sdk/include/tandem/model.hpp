// The C++ layer for model modules. A model is an ordinary class:
//
//   class MyModel final : public tandem::sdk::Model {
//    public:
//     explicit MyModel(const tandem::sdk::Params& p);
//     std::vector<tandem::sdk::ModelParam> parameters() const override;
//     ...
//   };
//   TANDEM_MODEL_MODULE(my_model, MyModel, "1.0.0", "one line", kParams)
//
// ParamAccess wraps the host's tandem_param_access: acquire(layer) returns the layer's parameter
// views, and a failing callback throws, so a model's code reads as straight-line math.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tandem/model.h"
#include "tandem/call.hpp"
#include "tandem/module.hpp"
#include "tandem/tensor.hpp"

namespace tandem::sdk {

struct ModelParam {
  std::string name;
  std::vector<int64_t> shape;
  int32_t layer = 0;
  uint32_t flags = 0;  // TANDEM_MODEL_PARAM_*
};

class ParamAccess {
 public:
  ParamAccess(const tandem_param_access& access, std::vector<uint32_t> layer_sizes)
      : access_(access), layer_sizes_(std::move(layer_sizes)) {}

  // The views of `layer`'s parameters, in the order of the model's list; valid until release().
  std::vector<tandem_tensor_view> acquire(int32_t layer) {
    std::vector<tandem_tensor_view> views(size_of(layer));
    call(access_.acquire, layer, views.data(), "acquire");
    return views;
  }
  void release(int32_t layer) { call_plain(access_.release, layer, "release"); }
  // Gradient buffers of `layer` to add (+=) into; valid until grads_done().
  std::vector<tandem_tensor_view> acquire_grads(int32_t layer) {
    std::vector<tandem_tensor_view> views(size_of(layer));
    call(access_.acquire_grads, layer, views.data(), "acquire_grads");
    return views;
  }
  void grads_done(int32_t layer) { call_plain(access_.grads_done, layer, "grads_done"); }

 private:
  size_t size_of(int32_t layer) const {
    if (layer < 0 || static_cast<size_t>(layer) >= layer_sizes_.size())
      throw std::invalid_argument("layer " + std::to_string(layer) + " out of range");
    return layer_sizes_[static_cast<size_t>(layer)];
  }
  template <class Fn>
  void call(Fn fn, int32_t layer, tandem_tensor_view* views, const char*) {
    for (size_t i = 0; i < size_of(layer); ++i) views[i].struct_size = sizeof(tandem_tensor_view);
    call_checked([&](tandem_error* err) { return fn(access_.ctx, layer, views, err); });
  }
  template <class Fn>
  void call_plain(Fn fn, int32_t layer, const char*) {
    call_checked([&](tandem_error* err) { return fn(access_.ctx, layer, err); });
  }

  const tandem_param_access& access_;
  std::vector<uint32_t> layer_sizes_;
};

class Model {
 public:
  virtual ~Model() = default;

  // The parameters, in a fixed order, each with its layer; layers are 0..layer_count()-1 in forward
  // order and every layer owns at least one parameter.
  virtual std::vector<ModelParam> parameters() const = 0;
  virtual int32_t layer_count() const = 0;
  virtual int64_t hidden_size() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_sequence() const = 0;
  // Initial values of parameter `index` (fp32, its shape), a pure function of the seed.
  virtual void init_param(uint32_t index, uint64_t seed, tandem_tensor_view& out) const = 0;
  // tokens: I32 [B, T]. Returns a view of the logits [B, T, vocab] the model owns.
  virtual tandem_tensor_view forward(const tandem_tensor_view& tokens, ParamAccess& access, bool train) = 0;
  virtual void backward(const tandem_tensor_view& dlogits, ParamAccess& access) = 0;
  // SDK 1.2 (model.h's place): where to compute, before the first forward. The default takes the
  // CPU (parameters there are fp32 words whatever the working precision) and refuses anything else.
  virtual void place(const tandem_placement& where, tandem_dtype dtype) {
    (void)dtype;
    if (where.device != TANDEM_DEVICE_CPU)
      throw Unsupported("this model computes on the CPU only (it does not implement place() for a GPU)");
  }
  // SDK 1.4 (model.h's forward_cached): inference over positions past .. past + T_new - 1 with the
  // earlier positions' keys and values kept by the model. The default has no cache: the host then runs
  // forward() over the whole sequence, which gives the same logits, only slower.
  virtual tandem_tensor_view forward_cached(const tandem_tensor_view& tokens, int64_t past, ParamAccess& access) {
    (void)tokens, (void)past, (void)access;
    throw Unsupported("this model keeps no KV cache (it does not implement forward_cached())");
  }
};

// Maps tandem_model_vtable onto a Model subclass. The parameter list is read once, at first use,
// and kept so that the names handed across the boundary stay valid as long as the instance.
template <class Class>
struct ModelAdapter {
  struct Cache {
    std::vector<ModelParam> params;
    std::vector<uint32_t> layer_sizes;
  };
  // What the factory makes: the author's model beside the cache, so that the author's class needs
  // nothing from the adapter (it may be final).
  struct Holder {
    explicit Holder(const Params& p) : model(p) {}
    const Cache& cache() const {
      if (!cache_) {
        auto cache = std::make_unique<Cache>();
        cache->params = model.parameters();
        cache->layer_sizes.assign(static_cast<size_t>(model.layer_count()), 0);
        for (const ModelParam& m : cache->params) {
          if (m.layer < 0 || m.layer >= model.layer_count())
            throw std::invalid_argument("parameter " + m.name + " has layer " + std::to_string(m.layer) +
                                        " outside 0.." + std::to_string(model.layer_count() - 1));
          if (m.shape.size() > TANDEM_MAX_DIMS) throw std::invalid_argument("parameter " + m.name + " has too many dims");
          ++cache->layer_sizes[static_cast<size_t>(m.layer)];
        }
        cache_ = std::move(cache);
      }
      return *cache_;
    }
    Class model;
    mutable std::unique_ptr<Cache> cache_;
  };
  static Holder& self(void* p) { return *static_cast<Holder*>(p); }
  static const Holder& self(const void* p) { return *static_cast<const Holder*>(p); }

  static uint32_t param_count(const void* p) noexcept {
    try {
      return static_cast<uint32_t>(self(p).cache().params.size());
    } catch (...) {
      return 0;
    }
  }
  static tandem_status param_info(const void* p, uint32_t index, tandem_model_param* out, tandem_error* err) noexcept {
    return guard(err, [&] {
      const auto& params = self(p).cache().params;
      if (out == nullptr || index >= params.size()) throw std::invalid_argument("param_info: index out of range");
      const ModelParam& m = params[index];
      *out = tandem_model_param{};
      out->struct_size = sizeof(tandem_model_param);
      out->name = m.name.c_str();
      out->ndim = static_cast<uint32_t>(m.shape.size());
      for (size_t d = 0; d < m.shape.size(); ++d) out->shape[d] = m.shape[d];
      out->layer = m.layer;
      out->flags = m.flags;
    });
  }
  static int32_t layer_count(const void* p) noexcept { return self(p).model.layer_count(); }
  static int64_t hidden_size(const void* p) noexcept { return self(p).model.hidden_size(); }
  static int64_t vocab_size(const void* p) noexcept { return self(p).model.vocab_size(); }
  static int64_t max_sequence(const void* p) noexcept { return self(p).model.max_sequence(); }
  static tandem_status init_param(const void* p, uint32_t index, uint64_t seed, tandem_tensor_view* out,
                                  tandem_error* err) noexcept {
    return guard(err, [&] {
      if (out == nullptr) throw std::invalid_argument("init_param: null output");
      self(p).model.init_param(index, seed, *out);
    });
  }
  static tandem_status forward(void* p, const tandem_tensor_view* tokens, const tandem_param_access* access,
                               int32_t train, tandem_tensor_view* logits, tandem_error* err) noexcept {
    return guard(err, [&] {
      if (tokens == nullptr || access == nullptr || logits == nullptr) throw std::invalid_argument("forward: null argument");
      ParamAccess params(*access, self(p).cache().layer_sizes);
      *logits = self(p).model.forward(*tokens, params, train != 0);
    });
  }
  static tandem_status backward(void* p, const tandem_tensor_view* dlogits, const tandem_param_access* access,
                                tandem_error* err) noexcept {
    return guard(err, [&] {
      if (dlogits == nullptr || access == nullptr) throw std::invalid_argument("backward: null argument");
      ParamAccess params(*access, self(p).cache().layer_sizes);
      self(p).model.backward(*dlogits, params);
    });
  }

  static tandem_status place(void* p, const tandem_placement* where, uint32_t dtype, tandem_error* err) noexcept {
    return guard(err, [&] {
      if (where == nullptr) throw std::invalid_argument("place: null placement");
      self(p).model.place(*where, static_cast<tandem_dtype>(dtype));
    });
  }

  static tandem_status forward_cached(void* p, const tandem_tensor_view* tokens, int64_t past,
                                      const tandem_param_access* access, tandem_tensor_view* logits,
                                      tandem_error* err) noexcept {
    return guard(err, [&] {
      if (tokens == nullptr || access == nullptr || logits == nullptr)
        throw std::invalid_argument("forward_cached: null argument");
      ParamAccess params(*access, self(p).cache().layer_sizes);
      *logits = self(p).model.forward_cached(*tokens, past, params);
    });
  }

  static constexpr tandem_model_vtable vtable = {sizeof(tandem_model_vtable), &param_count, &param_info, &layer_count,
                                                 &hidden_size, &vocab_size, &max_sequence, &init_param, &forward,
                                                 &backward, &place, &forward_cached};
};

}  // namespace tandem::sdk

// The factory must build the Holder (which caches the parameter list), not the bare class.
#define TANDEM_MODEL_MODULE(IDENT, CLASS, VERSION, SUMMARY, PARAMS)                                \
  TANDEM_DEFINE_MODULE_(TANDEM_KIND_MODEL, IDENT, ::tandem::sdk::ModelAdapter<CLASS>::Holder,     \
                        ::tandem::sdk::ModelAdapter<CLASS>::vtable, VERSION, SUMMARY, PARAMS)
