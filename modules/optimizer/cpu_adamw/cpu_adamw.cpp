// cpu_adamw: the module's class (cpu_adamw.hpp), its params and its descriptor. The kernels are in
// cpu_adamw_kernels.cpp; the update rule and the Adam params are shared with adamw (../common/).
#include "cpu_adamw.hpp"

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <vector>

#include "tandem/fork_join_annotation.hpp"

namespace tandem_cpu_adamw {

namespace {

using tandem::sdk::OptimizerGroup;
using tandem::sdk::OptimizerHparams;
using tandem::sdk::OptimizerStep;
using tandem_adam::kParams;

const char* const kSimdChoices[] = {"auto", "avx512", "avx2", "portable", nullptr};

// The Adam params (shared with adamw) and this module's own.
const tandem_param_spec kCpuParams[] = {
    kParams[0], kParams[1], kParams[2], kParams[3], kParams[4], kParams[5], kParams[6], kParams[7],
    tandem::sdk::optional_param("simd", TANDEM_PARAM_STRING, "\"auto\"",
                                "instruction set of the kernel: auto (the widest this CPU has), avx512, avx2, "
                                "portable; a path the CPU lacks is refused",
                                -HUGE_VAL, HUGE_VAL, kSimdChoices),
    // 256K elements: 1 MiB of each fp32 array per tile, 7 MiB of traffic; many tiles per worker for
    // balance at 100M parameters, few enough that the per-tile overhead (a counter, two hooks) vanishes.
    tandem::sdk::optional_param("tile_elements", TANDEM_PARAM_INT, "262144",
                                "elements per tile (the unit of parallel work and of the tile hooks)", 1.0,
                                static_cast<double>(size_t{1} << 40)),
};
static_assert(sizeof(kParams) / sizeof(kParams[0]) == 8, "kCpuParams lists every shared Adam param");

Simd choose_simd(const std::string& name) {
  if (name == "auto") return best_simd();
  Simd simd = Simd::Portable;
  if (name == "avx512")
    simd = Simd::Avx512;
  else if (name == "avx2")
    simd = Simd::Avx2;
  else if (name != "portable")
    throw std::invalid_argument("simd: unknown value '" + name + "' (auto, avx512, avx2 or portable)");
  if (!simd_supported(simd))
    throw tandem::sdk::Unsupported("simd: \"" + name + "\" was asked for but this CPU does not support it (best: \"" +
                                   simd_name(best_simd()) + "\"); use \"auto\"");
  return simd;
}

// One tile with everything its worker needs.
struct Work {
  Tile tile;
  TileKernel kernel;
  const tandem_adamw::StepConstants* constants;
};

}  // namespace

CpuAdamW::CpuAdamW(const tandem::sdk::Params& p)
    : Optimizer({"exp_avg", "exp_avg_sq"}),
      settings_(p),
      simd_(choose_simd(p.string("simd"))),
      tile_elements_(static_cast<size_t>(p.integer("tile_elements"))) {}

void CpuAdamW::step(const OptimizerStep& s) {
  const bool bf16_grads = s.grads.dtype() == TANDEM_DTYPE_BF16;
  const bool write_bf16 = !s.params_bf16.empty();
  std::vector<tandem_adamw::StepConstants> constants(s.groups.size());
  std::vector<Work> work;
  for (size_t i = 0; i < s.groups.size(); ++i) {
    const OptimizerGroup& group = s.groups[i];
    tandem_adam::check_hparams("cpu_adamw", group.hparams, i);
    const OptimizerHparams& h = group.hparams;
    constants[i] = tandem_adamw::make_constants(h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, s.step,
                                                settings_.bias_correction, settings_.adam_w_mode, s.grad_scale);
    const TileKernel kernel = tile_kernel(simd_, bf16_grads, constants[i].mode, write_bf16);
    // Cut at multiples of tile_elements in shard coordinates: a tile never straddles two copy units.
    for (size_t b = group.offset, end = group.offset + group.count; b < end;) {
      const size_t e = std::min(end, (b / tile_elements_ + 1) * tile_elements_);
      work.push_back(Work{Tile{work.size(), i, b, e - b}, kernel, &constants[i]});
      b = e;
    }
  }
  if (work.empty()) return;

  float* const p = s.params.data();
  float* const m = state(0).data();
  float* const v = state(1).data();
  uint16_t* const p16 = write_bf16 ? s.params_bf16.data() : nullptr;
  const char* const g = bf16_grads ? static_cast<const char*>(static_cast<const void*>(s.grads.bf16(0, 0).data()))
                                   : static_cast<const char*>(static_cast<const void*>(s.grads.f32(0, 0).data()));
  const size_t grad_size = bf16_grads ? sizeof(uint16_t) : sizeof(float);

  // Workers take the next tile from one counter: tiles start in shard order, and each worker's
  // tiles are increasing (a copy engine can stream them), whatever the balance between workers.
  std::atomic<size_t> next{0};
  const auto worker = [&] {
    for (size_t k = next.fetch_add(1, std::memory_order_relaxed); k < work.size();
         k = next.fetch_add(1, std::memory_order_relaxed)) {
      const Work& w = work[k];
      const size_t o = w.tile.offset;
      s.before_tile(o, w.tile.count);
      if (hooks_.before) hooks_.before(w.tile);
      w.kernel(w.tile.count, p + o, g + o * grad_size, m + o, v + o, write_bf16 ? p16 + o : nullptr, *w.constants);
      if (hooks_.after) hooks_.after(w.tile);
      s.after_tile(o, w.tile.count);
    }
  };
  const size_t workers =
      std::min(work.size(), static_cast<size_t>(std::max(1, oneapi::tbb::this_task_arena::max_concurrency())));
  if (workers == 1) return worker();
  tandem::sdk::ForkJoinAnnotation fork_join;  // ThreadSanitizer builds only
  oneapi::tbb::parallel_for(size_t{0}, workers, [&](size_t) {
    tandem::sdk::ForkJoinAnnotation::task_begins();
    worker();
    fork_join.task_ends();
  });
  fork_join.joined();
}

}  // namespace tandem_cpu_adamw

TANDEM_OPTIMIZER_MODULE(cpu_adamw, tandem_cpu_adamw::CpuAdamW, "1.0.0",
                        "DeepSpeed's CPU Adam/AdamW for ZeRO-Offload: fp32 + bf16 out in one pass, tiled, oneTBB, "
                        "AVX-512/AVX2/portable chosen at run time",
                        tandem_cpu_adamw::kCpuParams)
