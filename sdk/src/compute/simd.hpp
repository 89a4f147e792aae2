// Vector code without -march=native: hot loops are compiled for several x86-64 levels (AVX-512,
// AVX2+FMA, baseline) and the best one for the running CPU is picked once at load time through an
// ifunc (GCC/Clang target_clones). So one build runs well on the build machine, on the GPU
// machine's Xeon and on an old laptop alike.
//
// Use: a kernel body is an always-inline template (TANDEM_INLINE), and a thin non-template
// overload per element type carries TANDEM_SIMD_CLONES and calls it; the body is then compiled
// once per clone. Lambdas are not cloned, so TBB bodies call such overloads rather than hold loops.
//
// Reductions use `#pragma omp simd reduction(...)` (enabled by -fopenmp-simd, no OpenMP runtime):
// without -ffast-math GCC will not reorder a float sum on its own, and fast-math is not an option
// for a numerical library. The lane order is fixed per clone, so results stay deterministic on a
// given machine.
#pragma once

#define TANDEM_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(TANDEM_NO_SIMD_CLONES)
#define TANDEM_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TANDEM_SIMD_CLONES
#endif
