// The stage conformance suite's machinery (tandem/conformance/stage.hpp), for tests of a stage's
// other behaviour (refusals, a stage without an optimizer): a toy model's ranks, each driving one
// stage instance through its C table as the engine and a model would.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tandem/conformance/stage.hpp"
#include "tandem/conformance/stand_in_device.hpp"
#include "tandem/registry.hpp"
#include "tandem/stage.h"

namespace tandem::test {

// The toy model: 8 parameters in 4 layers and 3 optimizer groups.
struct ToyParam {
  const char* name;
  std::vector<int64_t> shape;
  int32_t layer;
  uint32_t group;
};
const std::vector<ToyParam>& toy_params();
size_t toy_numel(const ToyParam& p);
std::vector<std::vector<float>> toy_initial_weights();  // a pure function: the same on every call

// The stage options the suite runs with, reduce_bucket_size = `bucket` elements.
tandem_stage_options toy_stage_options(int64_t bucket);

// The modules a toy run needs: the stage under test (static or by name), zero0, adamw and local,
// loaded from the module directories.
class ToyModules {
 public:
  explicit ToyModules(const StageFactory& factory);
  // A new stage instance: the factory's module, or (reference) zero0 with no params. Params are
  // bound by the host's own binding (schema checked, defaults filled).
  std::shared_ptr<ModuleInstance> stage(bool reference, const std::string& label) const;
  // adamw, lr 0.01, wd 0.1; or another module of the Adam family with the same lr and decay plus
  // `extra_params` (a JSON object's members, e.g. R"("tile_elements": 7)").
  std::shared_ptr<ModuleInstance> optimizer(const std::string& label, const std::string& module = "adamw",
                                            const std::string& extra_params = "") const;
  std::shared_ptr<ModuleInstance> comm(int world) const;                      // local, `world` ranks
  // The SDK minor the stage under test was built against (1.2 gave stages device memory).
  uint16_t stage_abi_minor() const;

 private:
  StageFactory factory_;
  ModuleRegistry registry_;
};

// One rank: a stage instance and an optimizer instance, set up on the toy model - in host memory, or
// on a stand-in GPU (`device`): then every view the stage hands the model must say CUDA and lie in
// the device's memory with no copy pending, and, unless the options offload the optimizer, the
// optimizer is presented as one that runs on the device.
class ToyRank {
 public:
  ToyRank(std::shared_ptr<ModuleInstance> stage, std::shared_ptr<ModuleInstance> optimizer,
          const ModuleInstance& comm, int rank, int world, const tandem_stage_options& options, bool with_optimizer,
          StandInDevice* device = nullptr);

  void set_weights(const std::vector<std::vector<float>>& w);
  std::vector<std::vector<float>> weights();  // collective under a stage that partitions parameters
  // A model's forward then backward as gpt_model.hpp orders them: layer 0 stays acquired throughout
  // and its tied weight gets one contribution first and one last. Checks each acquired view against
  // `current` and returns the micro-step's loss, a function of the weights the views show.
  double micro_step(int step, int micro, const std::vector<std::vector<float>>& current);
  // A forward-only pass (a teacher's): layer 0 acquired first and released last, and in between each
  // of `layers`, in that order, acquired and released; every view checked against `current`. Passes
  // in different orders exercise a stage's prefetch along the order it recorded, and its way out when
  // a pass goes another way.
  void forward_pass(const std::vector<int32_t>& layers, const std::vector<std::vector<float>>& current);
  double norm();
  // The engine's boundary: clip as DeepSpeed does (clip <= 0: off), then step.
  void step(int64_t step, double norm, double clip);

 private:
  void* self() const;

  void check_view(const tandem_tensor_view& view, size_t numel, const char* name, const char* what) const;

  std::shared_ptr<ModuleInstance> stage_;
  std::shared_ptr<ModuleInstance> optimizer_;
  std::unique_ptr<StandInDeviceOptimizer> device_optimizer_;
  StandInDevice* device_;
  const tandem_stage_vtable& vt_;
  int rank_;
  std::vector<tandem_model_param> params_;
  std::vector<uint32_t> groups_;
};

}  // namespace tandem::test
