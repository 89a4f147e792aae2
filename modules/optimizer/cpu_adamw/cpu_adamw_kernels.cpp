// The tile kernel compiled three times, for AVX-512, AVX2 and the baseline instruction set, with GCC
// target attributes: one binary carries all three and the constructor picks one at run time.
//
// Each variant is a thin function whose body is the shared, always-inlined element loop
// (../common/adam_kernel.hpp), so GCC vectorises that loop for the variant's target. The element math
// is the same on every path: one IEEE fp32 rounding per +, *, / and sqrt, no fused multiply-add (the
// module is built with -ffp-contract=off; AVX2's FMA is enabled only so that the target matches the
// CPUs that have AVX2, never contracted into), so the three paths give the same bits.
#include "cpu_adamw.hpp"

namespace tandem_cpu_adamw {

namespace {

using tandem_adamw::Decay;
using tandem_adamw::StepConstants;

#if defined(__x86_64__) || defined(__i386__)
#define TANDEM_X86 1
// prefer-vector-width=512: GCC's default tuning would otherwise vectorise with 256-bit registers.
#define TANDEM_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512")))
#define TANDEM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define TANDEM_X86 0
#endif

template <class Grad, Decay kMode, bool kWriteBf16>
void tile_portable(size_t n, float* p, const void* g, float* m, float* v, uint16_t* p16, const StepConstants& c) {
  tandem_adamw::update_range<Grad, kMode, kWriteBf16>(n, p, static_cast<const Grad*>(g), m, v, p16, c);
}

#if TANDEM_X86
template <class Grad, Decay kMode, bool kWriteBf16>
TANDEM_TARGET_AVX2 void tile_avx2(size_t n, float* p, const void* g, float* m, float* v, uint16_t* p16,
                                  const StepConstants& c) {
  tandem_adamw::update_range<Grad, kMode, kWriteBf16>(n, p, static_cast<const Grad*>(g), m, v, p16, c);
}

template <class Grad, Decay kMode, bool kWriteBf16>
TANDEM_TARGET_AVX512 void tile_avx512(size_t n, float* p, const void* g, float* m, float* v, uint16_t* p16,
                                      const StepConstants& c) {
  tandem_adamw::update_range<Grad, kMode, kWriteBf16>(n, p, static_cast<const Grad*>(g), m, v, p16, c);
}
#endif

// The kernel of one path (`pick`, a generic lambda naming the path's template) for one
// (gradient dtype, decay mode, bf16 output) combination.
template <class Grad, bool kWriteBf16, class Pick>
TileKernel by_mode(Decay mode, Pick pick) {
  switch (mode) {
    case Decay::None:
      return pick.template operator()<Grad, Decay::None, kWriteBf16>();
    case Decay::L2:
      return pick.template operator()<Grad, Decay::L2, kWriteBf16>();
    case Decay::Decoupled:
      return pick.template operator()<Grad, Decay::Decoupled, kWriteBf16>();
  }
  return nullptr;
}

template <class Pick>
TileKernel select(bool bf16_grads, Decay mode, bool write_bf16, Pick pick) {
  if (bf16_grads)
    return write_bf16 ? by_mode<uint16_t, true>(mode, pick) : by_mode<uint16_t, false>(mode, pick);
  return write_bf16 ? by_mode<float, true>(mode, pick) : by_mode<float, false>(mode, pick);
}

}  // namespace

const char* simd_name(Simd simd) {
  switch (simd) {
    case Simd::Portable:
      return "portable";
    case Simd::Avx2:
      return "avx2";
    case Simd::Avx512:
      return "avx512";
  }
  return "unknown";
}

bool simd_supported(Simd simd) {
#if TANDEM_X86
  // __builtin_cpu_supports reads CPUID and the OS's XSAVE state (a kernel that does not save the
  // AVX-512 registers reports no avx512f).
  switch (simd) {
    case Simd::Portable:
      return true;
    case Simd::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Simd::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
#else
  return simd == Simd::Portable;
#endif
}

Simd best_simd() {
  if (simd_supported(Simd::Avx512)) return Simd::Avx512;
  if (simd_supported(Simd::Avx2)) return Simd::Avx2;
  return Simd::Portable;
}

TileKernel tile_kernel(Simd simd, bool bf16_grads, Decay mode, bool write_bf16) {
  switch (simd) {
#if TANDEM_X86
    case Simd::Avx512:
      return select(bf16_grads, mode, write_bf16,
                    []<class G, Decay M, bool B>() -> TileKernel { return &tile_avx512<G, M, B>; });
    case Simd::Avx2:
      return select(bf16_grads, mode, write_bf16,
                    []<class G, Decay M, bool B>() -> TileKernel { return &tile_avx2<G, M, B>; });
#else
    case Simd::Avx512:
    case Simd::Avx2:
      return nullptr;
#endif
    case Simd::Portable:
      break;
  }
  return select(bf16_grads, mode, write_bf16,
                []<class G, Decay M, bool B>() -> TileKernel { return &tile_portable<G, M, B>; });
}

}  // namespace tandem_cpu_adamw
