// The toy model and its ranks; see tandem/conformance/stage_toy.hpp.
#include "tandem/conformance/stage_toy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "loader/param_binding.hpp"  // the host's own parameter binding (host/src)
#include "tandem/call.hpp"
#include "tandem/json.hpp"

namespace tandem::test {

namespace {

constexpr int32_t kLayers = 4;
constexpr uint32_t kGroups = 3;

// Values of every magnitude from 1e-6 to 1e3, both signs: sums of them round differently in any
// other order.
float synthetic(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> mantissa(-1.0, 1.0), exponent(-6.0, 3.0);
  return static_cast<float>(mantissa(rng) * std::pow(10.0, exponent(rng)));
}

template <class Fn>
void call(Fn&& fn) {
  sdk::ErrorBuffer err;
  const tandem_status s = fn(err.get());
  if (s != TANDEM_STATUS_OK) sdk::throw_status(s, err.message());
}

tandem_tensor_view flat_view(float* data, size_t n) {
  tandem_tensor_view v{};
  v.struct_size = sizeof v;
  v.dtype = TANDEM_DTYPE_F32;
  v.device = TANDEM_DEVICE_CPU;
  v.data = data;
  v.ndim = 1;
  v.shape[0] = static_cast<int64_t>(n);
  return v;
}

// An instance of a module's static form, created the way the registry creates a loaded one.
std::shared_ptr<ModuleInstance> create_static(const tandem_module_descriptor& d, const std::string& params_json,
                                              const std::string& label) {
  const json::Document doc = json::parse(params_json, "<stage params>");
  const loader::BoundParams bound = loader::bind_params(d, &doc.root, doc.source, std::string("module ") + d.name);
  tandem_create_args args{};
  args.struct_size = sizeof(args);
  args.host_abi_major = TANDEM_ABI_MAJOR;
  args.host_abi_minor = TANDEM_ABI_MINOR;
  args.params = bound.data();
  args.param_count = bound.size();
  args.instance_name = label.c_str();
  void* handle = nullptr;
  sdk::ErrorBuffer err;
  const tandem_status status = d.create(&args, &handle, err.get());
  if (status != TANDEM_STATUS_OK)
    throw ModuleError(std::string("stage module '") + d.name + "' (static): create failed (" +
                      sdk::status_name(status) + "): " + err.message());
  return std::make_shared<ModuleInstance>(nullptr, &d, handle, label, std::filesystem::path("(linked statically)"));
}

}  // namespace

// Groups: 0 = 21 + 3 + 11 + 9 = 44, 1 = 5 + 10 = 15, 2 = 16 + 1 = 17 elements. Layer 0 holds "tied".
const std::vector<ToyParam>& toy_params() {
  static const std::vector<ToyParam> toy = {
      {"tied", {7, 3}, 0, 0}, {"bias0", {5}, 0, 1},  {"mat1", {4, 4}, 1, 2}, {"vec2", {3}, 2, 0},
      {"vec1", {11}, 1, 0},   {"mat2", {2, 5}, 2, 1}, {"one3", {1}, 3, 2},   {"vec3", {9}, 3, 0},
  };
  return toy;
}

size_t toy_numel(const ToyParam& p) {
  size_t n = 1;
  for (int64_t d : p.shape) n *= static_cast<size_t>(d);
  return n;
}

std::vector<std::vector<float>> toy_initial_weights() {
  std::mt19937_64 rng(4242);
  std::vector<std::vector<float>> w;
  for (const ToyParam& p : toy_params()) {
    std::vector<float> v(toy_numel(p));
    for (float& x : v) x = static_cast<float>(std::uniform_real_distribution<double>(-0.5, 0.5)(rng));
    w.push_back(std::move(v));
  }
  return w;
}

tandem_stage_options toy_stage_options(int64_t bucket) {
  tandem_stage_options o{};
  o.struct_size = sizeof o;
  o.reduce_bucket_size = bucket;
  o.allgather_bucket_size = 500'000'000;
  o.overlap_comm = 1;
  o.contiguous_gradients = 1;
  o.prefetch_bucket_size = 20;  // a layer or so ahead
  o.max_live_parameters = 40;
  o.max_reuse_distance = 1'000'000'000;
  o.param_persistence_threshold = 3;  // vec2 and one3 stay whole
  o.model_persistence_threshold = INT64_MAX;
  o.param_dtype = TANDEM_DTYPE_F32;
  return o;
}

ToyModules::ToyModules(const StageFactory& factory) : factory_(factory) {
  registry_.scan(ModuleRegistry::default_search_path(factory.module_path));
}

std::shared_ptr<ModuleInstance> ToyModules::stage(bool reference, const std::string& label) const {
  if (reference) return registry_.create(registry_.get(ModuleKind::Stage, "zero0"), nullptr, "<reference>", label);
  if (factory_.descriptor != nullptr) return create_static(*factory_.descriptor(), factory_.params_json, label);
  const json::Document doc = json::parse(factory_.params_json, "<" + factory_.name + " stage params>");
  return registry_.create(registry_.get(ModuleKind::Stage, factory_.module), &doc.root, doc.source, label);
}

std::shared_ptr<ModuleInstance> ToyModules::optimizer(const std::string& label, const std::string& module,
                                                      const std::string& extra_params) const {
  const std::string text =
      std::string(R"({"lr": 0.01, "weight_decay": 0.1)") + (extra_params.empty() ? "" : ", " + extra_params) + "}";
  const json::Document doc = json::parse(text, "<toy optimizer>");
  return registry_.create(registry_.get(ModuleKind::Optimizer, module), &doc.root, doc.source, label);
}

uint16_t ToyModules::stage_abi_minor() const {
  if (factory_.descriptor != nullptr) return factory_.descriptor()->abi_minor;
  return registry_.get(ModuleKind::Stage, factory_.module).abi_minor;
}

std::shared_ptr<ModuleInstance> ToyModules::comm(int world) const {
  const json::Document doc =
      json::parse(R"({"world_size": )" + std::to_string(world) + R"(, "timeout_seconds": 30})", "<toy comm>");
  return registry_.create(registry_.get(ModuleKind::Comm, "local"), &doc.root, doc.source, "toy.comm");
}

ToyRank::ToyRank(std::shared_ptr<ModuleInstance> stage, std::shared_ptr<ModuleInstance> optimizer,
                 const ModuleInstance& comm, int rank, int world, const tandem_stage_options& options,
                 bool with_optimizer, StandInDevice* device)
    : stage_(std::move(stage)),
      optimizer_(std::move(optimizer)),
      device_(device),
      vt_(stage_->vtable<tandem_stage_vtable>()),
      rank_(rank) {
  for (const ToyParam& p : toy_params()) {
    tandem_model_param m{};
    m.struct_size = sizeof m;
    m.name = p.name;
    m.ndim = static_cast<uint32_t>(p.shape.size());
    std::copy(p.shape.begin(), p.shape.end(), m.shape);
    m.layer = p.layer;
    params_.push_back(m);
    groups_.push_back(p.group);
  }
  tandem_stage_setup s{};
  s.struct_size = sizeof s;
  s.rank = rank;
  s.world_size = world;
  s.local_rank = rank;
  s.params = params_.data();
  s.param_count = static_cast<uint32_t>(params_.size());
  s.layer_count = kLayers;
  s.param_groups = groups_.data();
  s.group_count = kGroups;
  s.comm = comm.handle();
  s.comm_vtable = &comm.vtable<tandem_comm_vtable>();
  s.optimizer = with_optimizer ? optimizer_->handle() : nullptr;
  s.optimizer_vtable = &optimizer_->vtable<tandem_optimizer_vtable>();
  s.options = options;
  if (device_ != nullptr) {
    s.memory = device_->table();
    if (options.offload_optimizer == 0 && with_optimizer) {  // the shard stays on the device: so does the step
      device_optimizer_ = std::make_unique<StandInDeviceOptimizer>(optimizer_->handle(), s.optimizer_vtable);
      s.optimizer = device_optimizer_->instance();
      s.optimizer_vtable = device_optimizer_->vtable();
    }
  }
  call([&](tandem_error* e) { return vt_.setup(self(), &s, e); });
}

void* ToyRank::self() const { return stage_->handle(); }

void ToyRank::check_view(const tandem_tensor_view& view, size_t numel, const char* name, const char* what) const {
  if (device_ == nullptr) return;
  EXPECT_EQ(view.device, static_cast<uint32_t>(TANDEM_DEVICE_CUDA)) << name << ": a " << what << " view on the GPU";
  EXPECT_TRUE(device_->owns(view.data, numel * sizeof(float)))
      << name << ": the " << what << " view is not memory of the stage's device (tandem/memory.h)";
  EXPECT_EQ(device_->pending_copies(), 0u) << name << ": copies still pending when the model reads its " << what;
  EXPECT_FALSE(device_->side_pending(view.data, numel * sizeof(float)))
      << name << ": the " << what << " view is memory that side-queued work uses, not yet joined (join_side)";
  EXPECT_EQ(device_->violation(), "") << name;
}

void ToyRank::set_weights(const std::vector<std::vector<float>>& w) {
  for (uint32_t i = 0; i < w.size(); ++i) {
    tandem_tensor_view v = flat_view(const_cast<float*>(w[i].data()), w[i].size());
    call([&](tandem_error* e) { return vt_.set_param(self(), i, &v, e); });
  }
}

std::vector<std::vector<float>> ToyRank::weights() {
  std::vector<std::vector<float>> out;
  for (uint32_t i = 0; i < toy_params().size(); ++i) {
    out.emplace_back(toy_numel(toy_params()[i]));
    tandem_tensor_view v = flat_view(out.back().data(), out.back().size());
    call([&](tandem_error* e) { return vt_.get_param(self(), i, &v, e); });
  }
  return out;
}

double ToyRank::micro_step(int step, int micro, const std::vector<std::vector<float>>& current) {
  const std::vector<ToyParam>& toy = toy_params();
  const tandem_param_access& a = *vt_.param_access(self());
  std::mt19937_64 rng(1'000'003ull * static_cast<uint64_t>(rank_) + 1009ull * static_cast<uint64_t>(step) +
                      static_cast<uint64_t>(micro));
  double loss = 0.0;
  auto open = [&](int32_t layer) {
    std::vector<tandem_tensor_view> views(toy.size()), grads(toy.size());
    call([&](tandem_error* e) { return a.acquire(a.ctx, layer, views.data(), e); });
    call([&](tandem_error* e) { return a.acquire_grads(a.ctx, layer, grads.data(), e); });
    size_t k = 0;
    for (uint32_t i = 0; i < toy.size(); ++i)
      if (toy[i].layer == layer) {
        check_view(views[k], current[i].size(), toy[i].name, "parameter");
        check_view(grads[k], current[i].size(), toy[i].name, "gradient");
        EXPECT_EQ(std::memcmp(views[k].data, current[i].data(), current[i].size() * sizeof(float)), 0)
            << toy[i].name << " as acquired is not the current weight";
        const float* w = static_cast<const float*>(views[k].data);
        for (size_t j = 0; j < current[i].size(); ++j) loss += static_cast<double>(w[j]) * (1.0 + 0.001 * static_cast<double>(j));
        ++k;
      }
    return grads;
  };
  auto add = [&](int32_t layer, const std::vector<tandem_tensor_view>& grads) {
    size_t k = 0;
    for (const ToyParam& p : toy)
      if (p.layer == layer) {
        float* g = static_cast<float*>(grads[k++].data);
        for (size_t j = 0; j < toy_numel(p); ++j) g[j] += synthetic(rng);
      }
  };
  const std::vector<tandem_tensor_view> embed = open(0);
  add(0, embed);
  for (int32_t layer = kLayers - 1; layer >= 1; --layer) {
    add(layer, open(layer));
    call([&](tandem_error* e) { return a.grads_done(a.ctx, layer, e); });
    call([&](tandem_error* e) { return a.release(a.ctx, layer, e); });
  }
  add(0, embed);
  call([&](tandem_error* e) { return a.grads_done(a.ctx, 0, e); });
  call([&](tandem_error* e) { return a.release(a.ctx, 0, e); });
  call([&](tandem_error* e) { return vt_.end_backward(self(), e); });
  return loss;
}

void ToyRank::forward_pass(const std::vector<int32_t>& layers, const std::vector<std::vector<float>>& current) {
  const std::vector<ToyParam>& toy = toy_params();
  const tandem_param_access& a = *vt_.param_access(self());
  auto open = [&](int32_t layer) {
    std::vector<tandem_tensor_view> views(toy.size());
    call([&](tandem_error* e) { return a.acquire(a.ctx, layer, views.data(), e); });
    size_t k = 0;
    for (uint32_t i = 0; i < toy.size(); ++i)
      if (toy[i].layer == layer) {
        check_view(views[k], current[i].size(), toy[i].name, "parameter");
        EXPECT_EQ(std::memcmp(views[k].data, current[i].data(), current[i].size() * sizeof(float)), 0)
            << toy[i].name << " as acquired is not the current weight";
        ++k;
      }
  };
  open(0);
  for (int32_t layer : layers) {
    open(layer);
    call([&](tandem_error* e) { return a.release(a.ctx, layer, e); });
  }
  call([&](tandem_error* e) { return a.release(a.ctx, 0, e); });
}

double ToyRank::norm() {
  double n = 0;
  call([&](tandem_error* e) { return vt_.grad_norm(self(), &n, e); });
  return n;
}

void ToyRank::step(int64_t step, double norm, double clip) {
  std::vector<tandem_optimizer_hparams> h;
  for (uint32_t g = 0; g < kGroups; ++g)
    h.push_back(tandem_optimizer_hparams{sizeof(tandem_optimizer_hparams), 0.01, 0.9, 0.999, 1e-8, g == 1 ? 0.0 : 0.1});
  tandem_stage_step_args args{};
  args.struct_size = sizeof args;
  args.step = step;
  const double c = clip > 0 ? (norm + 1e-6) / clip : 0.0;
  args.grad_scale = c > 1 ? 1.0 / c : 1.0;
  args.group_hparams = h.data();
  args.group_count = kGroups;
  call([&](tandem_error* e) { return vt_.step(self(), &args, e); });
}

}  // namespace tandem::test
