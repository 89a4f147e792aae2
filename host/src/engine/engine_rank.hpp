// What an Engine keeps per local rank: the rank's module instances and the buffers of its last pass.
#pragma once

#include <memory>
#include <vector>

#include "device/gpu.hpp"
#include "engine/host_loss.hpp"
#include "tandem/engine.hpp"
#include "tandem/model.h"
#include "tandem/optimizer.h"
#include "tandem/stage.h"

namespace tandem {

struct Engine::Rank {
  // GPU runs: the stage's memory, the loss on the device logits, and events around the phases. First,
  // so that they outlive the modules (members go in reverse order): the stage frees into the memory.
  std::unique_ptr<gpu::Device::Memory> memory;
  std::unique_ptr<gpu::Loss> loss;
  std::unique_ptr<gpu::Timer> timer;

  std::shared_ptr<ModuleInstance> model, stage, optimizer;
  const tandem_model_vtable* model_vt = nullptr;
  const tandem_stage_vtable* stage_vt = nullptr;
  const tandem_optimizer_vtable* optimizer_vt = nullptr;

  // The access table the stage hands the model (valid as long as the stage instance).
  const tandem_param_access* access() const { return stage_vt->param_access(stage->handle()); }

  std::vector<int32_t> tokens;    // the last forward's input (the model may refer to it until backward)
  const float* logits = nullptr;  // the last forward's logits, owned by the model (CPU runs)
  HostLoss host_loss;              // CPU runs: the loss and its gradient, into dlogits
  std::vector<float> dlogits;
  double ce = 0, kd = 0;          // the last backward's mean losses
  Timings time;

  void* device_logits = nullptr;  // the last forward's, owned by the model
  enum Mark { kForwardBegin, kForwardEnd, kBackwardBegin, kBackwardEnd, kReduced, kStepBegin, kStepEnd, kMarks };
};

}  // namespace tandem
