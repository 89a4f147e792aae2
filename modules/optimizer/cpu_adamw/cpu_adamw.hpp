// cpu_adamw: DeepSpeed's CPU Adam (the ZeRO-Offload optimizer) at the memory-bandwidth limit.
//
// The update rule is adamw's, element for element (../common/adam_kernel.hpp, shared); what differs
// is how the shard is walked:
//   - tiles: the shard is cut at multiples of `tile_elements` (shard coordinates, so that a tile is
//     also a unit of host<->device copies) and each group's part of a tile is one unit of work;
//   - one pass over memory per tile: read p, g, m, v, write p, m, v (and the bf16 copy of p);
//   - oneTBB workers take tiles from one counter, so tiles are handed out in shard order and each
//     worker sees its tiles in increasing order (what a copy engine streaming tiles needs);
//   - the instruction set is picked at run time (AVX-512, AVX2 or the baseline), never at build
//     time: the kernel is compiled once per target with GCC target attributes.
// This header is the module's C++ form, for its static library's users (tests, and the CUDA
// offload path that installs tile hooks); the C table (optimizer.h) is unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "../common/adam_kernel.hpp"
#include "../common/adam_params.hpp"
#include "tandem/optimizer.hpp"

namespace tandem_cpu_adamw {

enum class Simd { Portable, Avx2, Avx512 };

const char* simd_name(Simd simd);  // "portable", "avx2", "avx512"
bool simd_supported(Simd simd);    // this CPU (and OS) can run the path
Simd best_simd();                  // the widest supported path

// The kernel for one tile: n elements from p, g (fp32 or bf16 bits), m, v; p16 only when writing bf16.
using TileKernel = void (*)(size_t n, float* p, const void* g, float* m, float* v, uint16_t* p16,
                            const tandem_adamw::StepConstants& c);
TileKernel tile_kernel(Simd simd, bool bf16_grads, tandem_adamw::Decay mode, bool write_bf16);

// One unit of work of a step: [offset, offset + count) of the shard, inside one group and one tile.
struct Tile {
  size_t index = 0;   // 0-based, in shard order, within this step
  size_t group = 0;   // the step's group it belongs to
  size_t offset = 0;  // shard element
  size_t count = 0;
};

// Optional callbacks, run on the worker that computes the tile (concurrently for different tiles),
// after the stage's own (SDK 1.2's before_tile / after_tile of the step's arguments, which a stage
// streaming an offloaded step through this optimizer gives):
//   before(t): before tile t is read (e.g. wait until its gradients have arrived on the host);
//   after(t):  once its fp32 params, bf16 params and state are written (e.g. start its copy to the device).
// An exception thrown by a hook stops the step and reaches the caller of step().
struct TileHooks {
  std::function<void(const Tile&)> before;
  std::function<void(const Tile&)> after;
};

class CpuAdamW final : public tandem::sdk::Optimizer {
 public:
  explicit CpuAdamW(const tandem::sdk::Params& p);

  uint32_t capabilities() const override { return TANDEM_OPTIMIZER_RUNS_ON_HOST | TANDEM_OPTIMIZER_CALLS_TILE_HOOKS; }
  tandem::sdk::OptimizerHparams defaults() const override { return settings_.defaults(); }
  void step(const tandem::sdk::OptimizerStep& s) override;

  Simd simd() const { return simd_; }
  size_t tile_elements() const { return tile_elements_; }
  // Not thread-safe with step() (like every call on one instance).
  void set_tile_hooks(TileHooks hooks) { hooks_ = std::move(hooks); }

 private:
  tandem_adam::AdamSettings settings_;
  Simd simd_;
  size_t tile_elements_;
  TileHooks hooks_;
};

}  // namespace tandem_cpu_adamw
