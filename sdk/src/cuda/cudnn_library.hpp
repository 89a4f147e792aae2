// Internal to tandem_cuda: cuDNN 9, opened at run time (dlopen "libcudnn.so.9") so that neither the
// build nor a run needs it; the few functions the attention graphs use, resolved once per process
// into one table. Compiled only where cuDNN's headers were found (TANDEM_HAVE_CUDNN_HEADERS, from
// sdk/src/cuda/CMakeLists.txt); elsewhere cudnn_attention.cpp reports cuDNN as absent.
#pragma once

#if TANDEM_HAVE_CUDNN_HEADERS

#include <cudnn_graph.h>

#include <string>

#include "tandem/cuda/runtime.hpp"

namespace tandem::cuda::detail {

struct CudnnLibrary {
  // Empty once loaded; else what failed (the dlopen error, a missing symbol, the version).
  std::string why_not;
  std::string file;      // the name dlopen found it by
  size_t version = 0;    // cudnnGetVersion(): 91900 for 9.19.0
  decltype(&cudnnGetVersion) get_version = nullptr;
  decltype(&cudnnGetErrorString) error_string = nullptr;
  decltype(&cudnnGetLastErrorString) last_error_string = nullptr;
  decltype(&cudnnCreate) create = nullptr;
  decltype(&cudnnDestroy) destroy = nullptr;
  decltype(&cudnnSetStream) set_stream = nullptr;
  decltype(&cudnnBackendCreateDescriptor) create_descriptor = nullptr;
  decltype(&cudnnBackendDestroyDescriptor) destroy_descriptor = nullptr;
  decltype(&cudnnBackendSetAttribute) set_attribute = nullptr;
  decltype(&cudnnBackendGetAttribute) get_attribute = nullptr;
  decltype(&cudnnBackendFinalize) finalize = nullptr;
  decltype(&cudnnBackendExecute) execute = nullptr;

  bool loaded() const { return why_not.empty(); }

  // "CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN (3001): <cudnnGetLastErrorString's text>".
  std::string describe(cudnnStatus_t status) const;
  // Throws CudnnError naming the call, the status and cuDNN's last error text, unless it succeeded.
  void check(cudnnStatus_t status, const std::string& call) const;
};

// A failed cuDNN call: an Error whose message carries the call, the status name and cuDNN's own text.
class CudnnError : public Error {
 public:
  CudnnError(const std::string& message, cudnnStatus_t status) : Error(message), status_(status) {}
  cudnnStatus_t status() const { return status_; }

 private:
  cudnnStatus_t status_;
};

// Opened at the first call, once per process (a function-local constant, as OpenBLAS is opened in
// compute/blas.cpp): the library stays open for the life of the process. A failure is printed once,
// then read from why_not by every caller.
const CudnnLibrary& cudnn_library();

}  // namespace tandem::cuda::detail

#endif  // TANDEM_HAVE_CUDNN_HEADERS
