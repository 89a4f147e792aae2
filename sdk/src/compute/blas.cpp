// OpenBLAS, opened at first use with the right kernels and one thread (see blas.hpp for why).
#include "blas.hpp"

#include <cblas.h>
#include <dlfcn.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "tandem/compute/blas_info.hpp"

namespace tandem::compute {
namespace detail {
namespace {

struct OpenBlas {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  std::string corename;
  std::string library;
  bool coretype_chosen_here = false;
};

// OpenBLAS's name for the best kernel set this CPU can run, or nullptr to let it detect.
const char* coretype_for_this_cpu() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

// Sets an environment variable for the lifetime of this object unless it is already set.
class ScopedEnvDefault {
 public:
  ScopedEnvDefault(const char* name, const char* value) : name_(name) {
    if (value != nullptr && std::getenv(name) == nullptr) set_ = setenv(name, value, 0) == 0;
  }
  ~ScopedEnvDefault() {
    if (set_) unsetenv(name_);
  }
  ScopedEnvDefault(const ScopedEnvDefault&) = delete;
  ScopedEnvDefault& operator=(const ScopedEnvDefault&) = delete;
  bool set() const { return set_; }

 private:
  const char* name_;
  bool set_ = false;
};

template <class F>
F symbol(void* handle, const char* name, const std::string& library) {
  void* p = dlsym(handle, name);
  if (p == nullptr) throw std::runtime_error("OpenBLAS (" + library + ") has no symbol " + name);
  return reinterpret_cast<F>(p);
}

OpenBlas load() {
  // The soname first (LD_LIBRARY_PATH, the caller's RUNPATH, ld.so.cache), then the library CMake found.
  const std::string candidates[] = {"libopenblas.so.0", TANDEM_OPENBLAS_LIBRARY};
  OpenBlas lib;
  void* handle = nullptr;
  for (const std::string& name : candidates) {
    handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);  // already in the process?
    if (handle != nullptr) {
      lib.library = name;
      break;
    }
  }
  std::string errors;
  if (handle == nullptr) {
    const ScopedEnvDefault coretype("OPENBLAS_CORETYPE", coretype_for_this_cpu());
    const ScopedEnvDefault threads("OPENBLAS_NUM_THREADS", "1");
    for (const std::string& name : candidates) {
      handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) {
        lib.library = name;
        lib.coretype_chosen_here = coretype.set();
        break;
      }
      const char* e = dlerror();
      errors += std::string("; ") + (e ? e : name.c_str());
    }
  }
  if (handle == nullptr)
    throw std::runtime_error("cannot open OpenBLAS (Debian/Ubuntu: apt-get install libopenblas0)" + errors);
  lib.sgemm = symbol<decltype(&cblas_sgemm)>(handle, "cblas_sgemm", lib.library);
  lib.dgemm = symbol<decltype(&cblas_dgemm)>(handle, "cblas_dgemm", lib.library);
  symbol<void (*)(int)>(handle, "openblas_set_num_threads", lib.library)(1);
  lib.corename = symbol<char* (*)()>(handle, "openblas_get_corename", lib.library)();
  return lib;  // the handle stays open for the life of the process
}

const OpenBlas& openblas() {
  static const OpenBlas lib = load();
  return lib;
}

CBLAS_TRANSPOSE op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

}  // namespace

void blas_use_single_thread() { (void)openblas(); }

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  openblas().sgemm(CblasRowMajor, op(trans_a), op(trans_b), static_cast<int>(m), static_cast<int>(n),
                   static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
                   static_cast<int>(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  openblas().dgemm(CblasRowMajor, op(trans_a), op(trans_b), static_cast<int>(m), static_cast<int>(n),
                   static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
                   static_cast<int>(ldc));
}

}  // namespace detail

BlasInfo blas_info() {
  const detail::OpenBlas& lib = detail::openblas();
  return BlasInfo{lib.library, lib.corename, lib.coretype_chosen_here};
}

}  // namespace tandem::compute
