// cuDNN opened with dlopen, its functions resolved by name (cudnn_library.hpp says why).
#include "cudnn_library.hpp"

#if TANDEM_HAVE_CUDNN_HEADERS

#include <dlfcn.h>

#include <cstdio>

namespace tandem::cuda::detail {
namespace {

template <class F>
bool resolve(void* handle, const char* name, F& out, std::string& why_not) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  if (out == nullptr && why_not.empty()) why_not = std::string("it has no symbol ") + name;
  return out != nullptr;
}

CudnnLibrary load() {
  CudnnLibrary lib;
  // The soname: LD_LIBRARY_PATH (the GPU bundle's env.sh adds PyTorch's nvidia-cudnn wheel), the
  // caller's RUNPATH, ld.so.cache (/usr/local/cuda/lib on the build machine).
  lib.file = "libcudnn.so.9";
  void* handle = dlopen(lib.file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = dlerror();
    lib.why_not = std::string("cannot open ") + lib.file + ": " + (e ? e : "unknown dlopen error") +
                  " (install cuDNN 9, e.g. the nvidia-cudnn-cu13 wheel, and put its lib directory on LD_LIBRARY_PATH)";
    return lib;
  }
  std::string missing;
  resolve(handle, "cudnnGetVersion", lib.get_version, missing);
  resolve(handle, "cudnnGetErrorString", lib.error_string, missing);
  resolve(handle, "cudnnGetLastErrorString", lib.last_error_string, missing);
  resolve(handle, "cudnnCreate", lib.create, missing);
  resolve(handle, "cudnnDestroy", lib.destroy, missing);
  resolve(handle, "cudnnSetStream", lib.set_stream, missing);
  resolve(handle, "cudnnBackendCreateDescriptor", lib.create_descriptor, missing);
  resolve(handle, "cudnnBackendDestroyDescriptor", lib.destroy_descriptor, missing);
  resolve(handle, "cudnnBackendSetAttribute", lib.set_attribute, missing);
  resolve(handle, "cudnnBackendGetAttribute", lib.get_attribute, missing);
  resolve(handle, "cudnnBackendFinalize", lib.finalize, missing);
  resolve(handle, "cudnnBackendExecute", lib.execute, missing);
  if (!missing.empty()) {
    lib.why_not = lib.file + " is not cuDNN 9's: " + missing;
    return lib;  // the handle stays open: harmless, and closing a half-used library is not
  }
  lib.version = lib.get_version();
  // The graphs use the backend API of cuDNN 9 (the headers tandem was built with: CUDNN_VERSION);
  // cuDNN keeps it within a major version, so 9.x at run time is enough.
  if (lib.version / 10000 != 9) {
    lib.why_not = lib.file + " is cuDNN " + std::to_string(lib.version) + ", not 9.x (built against " +
                  std::to_string(CUDNN_VERSION) + ")";
    return lib;
  }
  return lib;
}

}  // namespace

std::string CudnnLibrary::describe(cudnnStatus_t status) const {
  std::string s = error_string ? error_string(status) : "cuDNN status";
  s += " (" + std::to_string(static_cast<int>(status)) + ")";
  if (last_error_string) {
    char text[1024] = {};
    last_error_string(text, sizeof text);
    if (text[0] != '\0') s += ": " + std::string(text);
  }
  return s;
}

void CudnnLibrary::check(cudnnStatus_t status, const std::string& call) const {
  if (status != CUDNN_STATUS_SUCCESS) throw CudnnError("cuDNN: " + call + ": " + describe(status), status);
}

const CudnnLibrary& cudnn_library() {
  static const CudnnLibrary lib = [] {
    CudnnLibrary l = load();
    // Once per process, here where the load happens, not once per caller.
    if (!l.loaded())
      std::fprintf(stderr, "tandem: attention: cuDNN is not available (%s); under TANDEM_ATTENTION=auto tandem's kernels take bf16 attention\n",
                   l.why_not.c_str());
    return l;
  }();
  return lib;
}

}  // namespace tandem::cuda::detail

#endif  // TANDEM_HAVE_CUDNN_HEADERS
