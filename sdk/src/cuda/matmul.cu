// Matrix products through cuBLASLt. cuBLASLt is column-major; a row-major [r, c] matrix is the same
// memory as a column-major [c, r] one, its transpose. So the row-major c = op(a) op(b) is computed
// as the column-major c^T = op(b)^T op(a)^T: cuBLASLt's A is our b and its B is our a, each with
// our own transpose flag, and its (m, n) are our (n, m). The bias epilogue adds a vector along
// cuBLASLt's rows, which are our columns: bias[n], as a linear layer's bias is. For the same reason
// a bias gradient (sums over k of our b, [k, n]: dy in dW = x^T dy) is cuBLASLt's BGRADA, the sums
// of its A over k, one per row of its D (cublasLt.h: "bias size corresponds to the number of rows
// of the matrix D"), not BGRADB.
#include <cublasLt.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>

#include "check.cuh"
#include "tandem/cuda/matmul.hpp"

namespace tandem::cuda {

// What cuBLASLt's algorithm choice depends on: the types, transposes, shape, epilogue and how
// the pointers are aligned (an algorithm chosen for 16-byte aligned operands may refuse others).
struct AlgoKey {
  int in_type, out_type, ta, tb, epilogue;
  int64_t m, n, k;
  unsigned alignment_a, alignment_b, alignment_c, alignment_bias, alignment_addend, alignment_aux;
  auto tie() const {
    return std::tie(in_type, out_type, ta, tb, epilogue, m, n, k, alignment_a, alignment_b, alignment_c,
                    alignment_bias, alignment_addend, alignment_aux);
  }
  bool operator<(const AlgoKey& o) const { return tie() < o.tie(); }
};

struct Blas::Impl {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  // The heuristic's answer per problem: asking costs tens of microseconds of host time, about what
  // a GPT-2 sized product takes on the GPU, and a training step asks the same dozen questions
  // every layer.
  std::mutex mutex;
  // An empty answer: cuBLASLt has no algorithm for it (try_matmul's false), asked once.
  std::map<AlgoKey, std::optional<cublasLtMatmulAlgo_t>> algos;
};

struct BlasAccess {
  static Blas::Impl& impl(Blas& b) { return *b.impl_; }
};

namespace {

void check_lt(cublasStatus_t s, const std::string& what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error("cuBLASLt: " + what + ": " + cublasLtGetStatusName(s) + " (" + cublasLtGetStatusString(s) + ")");
}

// Owners of cuBLASLt's descriptors, so that a throw in between leaks none.
struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  ~MatmulDesc() { if (d) cublasLtMatmulDescDestroy(d); }
};
struct Layout {
  cublasLtMatrixLayout_t d = nullptr;
  ~Layout() { if (d) cublasLtMatrixLayoutDestroy(d); }
};
struct Preference {
  cublasLtMatmulPreference_t d = nullptr;
  ~Preference() { if (d) cublasLtMatmulPreferenceDestroy(d); }
};

template <class T>
constexpr cudaDataType_t data_type() {
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_16BF;
}

unsigned alignment(const void* p) {  // the largest power of two up to 256 dividing the address
  const auto a = reinterpret_cast<uintptr_t>(p);
  return a == 0 ? 256u : static_cast<unsigned>(std::min<uintptr_t>(a & (~a + 1), 256));
}

// cuBLASLt's epilogue for a bias, a bias gradient and a GELU request.
cublasLtEpilogue_t epilogue_of(bool bias, bool bias_grad, Epilogue::Gelu gelu) {
  if (bias_grad) return CUBLASLT_EPILOGUE_BGRADA;  // alone: checked in matmul_impl
  switch (gelu) {
    case Epilogue::Gelu::forward: return bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
    case Epilogue::Gelu::backward: return CUBLASLT_EPILOGUE_DGELU;
    case Epilogue::Gelu::none: break;
  }
  return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
}

std::string shape(int64_t m, int64_t n, int64_t k, Trans ta, Trans tb) {
  return "[" + std::to_string(m) + " x " + std::to_string(k) + "]" + (ta == Trans::yes ? "^T" : "") + " * [" +
         std::to_string(k) + " x " + std::to_string(n) + "]" + (tb == Trans::yes ? "^T" : "");
}
}  // namespace

Blas::Blas(size_t workspace_bytes) : impl_(std::make_unique<Impl>()) {
  check_lt(cublasLtCreate(&impl_->handle), "cublasLtCreate");
  if (workspace_bytes > 0) {
    impl_->workspace = device_malloc(workspace_bytes);
    impl_->workspace_bytes = workspace_bytes;
  }
}

Blas::~Blas() {
  device_free(impl_->workspace);
  if (impl_->handle) cublasLtDestroy(impl_->handle);
}

namespace {

// In = bf16 (tensor cores, fp32 accumulation) or float (CUBLAS_COMPUTE_32F: true fp32, no TF32).
// Returns false (nothing queued) when cuBLASLt has no algorithm and may_refuse; throws otherwise.
template <class In, class Out>
bool matmul_impl(Blas& blas, const In* a, Trans ta, const In* b, Trans tb, Out* c, int64_t m, int64_t n, int64_t k,
                 cudaStream_t stream, float alpha, float beta, const Out* bias, const Epilogue& extra,
                 bool may_refuse = false) {
  if (m <= 0 || n <= 0 || k <= 0) throw Error("matmul: empty or negative shape " + shape(m, n, k, ta, tb));
  const std::string what = "matmul " + shape(m, n, k, ta, tb);
  const bool gelu = extra.gelu != Epilogue::Gelu::none;
  if (gelu && (!extra.gelu_input || n % 8 != 0 || alignment(extra.gelu_input) < 16))
    throw Error(what + ": a GELU epilogue needs a 16-byte aligned pre-activation buffer and n a multiple of 8");
  if (extra.gelu == Epilogue::Gelu::backward && bias) throw Error(what + ": the GELU backward epilogue takes no bias");
  // alpha = 1 only: whether cuBLASLt scales the bias gradient by alpha is not documented.
  if (extra.bias_grad && (bias || gelu || !std::is_same_v<Out, float> || alpha != 1.0f))
    throw Error(what + ": a bias gradient epilogue needs an fp32 output, alpha 1 and no bias or GELU");
  Blas::Impl& impl = BlasAccess::impl(blas);

  MatmulDesc op;
  check_lt(cublasLtMatmulDescCreate(&op.d, CUBLAS_COMPUTE_32F, CUDA_R_32F), what);
  const cublasOperation_t op_a = tb == Trans::yes ? CUBLAS_OP_T : CUBLAS_OP_N;  // cuBLASLt's A is our b
  const cublasOperation_t op_b = ta == Trans::yes ? CUBLAS_OP_T : CUBLAS_OP_N;
  check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a), what);
  check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b), what);
  const cublasLtEpilogue_t epilogue = epilogue_of(bias != nullptr, extra.bias_grad != nullptr, extra.gelu);
  check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue), what);
  if (bias) {
    const cudaDataType_t bias_type = data_type<Out>();
    check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type),
             what);
    check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), what);
  }
  if (extra.bias_grad) {  // its type is the output's (Ctype, cublasLt.h): fp32, set explicitly as the bias's
    const cudaDataType_t grad_type = CUDA_R_32F;
    check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &grad_type, sizeof grad_type),
             what);
    check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &extra.bias_grad,
                                            sizeof extra.bias_grad),
             what);
  }
  if (gelu) {  // the pre-activation has the output's layout: column-major [n, m], leading dimension n
    const int64_t aux_ld = n;
    check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &extra.gelu_input,
                                            sizeof extra.gelu_input),
             what);
    check_lt(cublasLtMatmulDescSetAttribute(op.d, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &aux_ld, sizeof aux_ld), what);
  }

  // Column-major layouts of our row-major buffers: b is [k, n] (or [n, k] transposed), stored as
  // column-major [n, k] (or [k, n]) with leading dimension its row length.
  Layout la, lb, lc;
  const uint64_t b_rows = tb == Trans::yes ? k : n, b_cols = tb == Trans::yes ? n : k;
  const uint64_t a_rows = ta == Trans::yes ? m : k, a_cols = ta == Trans::yes ? k : m;
  check_lt(cublasLtMatrixLayoutCreate(&la.d, data_type<In>(), b_rows, b_cols, static_cast<int64_t>(b_rows)), what);
  check_lt(cublasLtMatrixLayoutCreate(&lb.d, data_type<In>(), a_rows, a_cols, static_cast<int64_t>(a_rows)), what);
  check_lt(cublasLtMatrixLayoutCreate(&lc.d, data_type<Out>(), n, m, n), what);

  const Out* addend = extra.addend ? static_cast<const Out*>(extra.addend) : c;
  const AlgoKey key{int(data_type<In>()), int(data_type<Out>()), int(ta), int(tb), int(epilogue),
                    m, n, k, alignment(a), alignment(b), alignment(c),
                    alignment(bias ? static_cast<const void*>(bias) : extra.bias_grad), alignment(addend),
                    alignment(extra.gelu_input)};
  std::optional<cublasLtMatmulAlgo_t> algo;
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    const auto known = impl.algos.find(key);
    if (known != impl.algos.end()) {
      algo = known->second;
    } else {
      Preference pref;
      check_lt(cublasLtMatmulPreferenceCreate(&pref.d), what);
      check_lt(cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &impl.workspace_bytes, sizeof impl.workspace_bytes),
               what);
      cublasLtMatmulHeuristicResult_t heuristic{};
      int found = 0;
      const cublasStatus_t searched =
          cublasLtMatmulAlgoGetHeuristic(impl.handle, op.d, la.d, lb.d, lc.d, lc.d, pref.d, 1, &heuristic, &found);
      // NOT_SUPPORTED is the heuristic's way of saying it has nothing for this configuration.
      if (searched != CUBLAS_STATUS_NOT_SUPPORTED) check_lt(searched, what + " (algorithm search)");
      if (searched == CUBLAS_STATUS_SUCCESS && found > 0) algo = heuristic.algo;
      impl.algos.emplace(key, algo);
    }
  }
  if (!algo) {
    if (may_refuse) return false;
    throw Error("cuBLASLt: no algorithm for " + what);
  }
  check_lt(cublasLtMatmul(impl.handle, op.d, &alpha, b, la.d, a, lb.d, &beta, addend, lc.d, c, lc.d, &*algo,
                          impl.workspace, impl.workspace_bytes, stream),
           what);
  return true;
}

}  // namespace

template <class Out>
void matmul(Blas& blas, const bf16* a, Trans ta, const bf16* b, Trans tb, Out* c, int64_t m, int64_t n, int64_t k,
            cudaStream_t stream, float alpha, float beta, const Out* bias) {
  matmul_impl<bf16, Out>(blas, a, ta, b, tb, c, m, n, k, stream, alpha, beta, bias, Epilogue{});
}

template <class Out>
void matmul(Blas& blas, const bf16* a, Trans ta, const bf16* b, Trans tb, Out* c, int64_t m, int64_t n, int64_t k,
            cudaStream_t stream, float alpha, float beta, const Out* bias, const Epilogue& epilogue) {
  matmul_impl<bf16, Out>(blas, a, ta, b, tb, c, m, n, k, stream, alpha, beta, bias, epilogue);
}

template <class Out>
bool try_matmul(Blas& blas, const bf16* a, Trans ta, const bf16* b, Trans tb, Out* c, int64_t m, int64_t n,
                int64_t k, cudaStream_t stream, float alpha, float beta, const Out* bias, const Epilogue& epilogue) {
  return matmul_impl<bf16, Out>(blas, a, ta, b, tb, c, m, n, k, stream, alpha, beta, bias, epilogue, true);
}

void matmul(Blas& blas, const float* a, Trans ta, const float* b, Trans tb, float* c, int64_t m, int64_t n, int64_t k,
            cudaStream_t stream, float alpha, float beta, const float* bias) {
  matmul_impl<float, float>(blas, a, ta, b, tb, c, m, n, k, stream, alpha, beta, bias, Epilogue{});
}

template void matmul<float>(Blas&, const bf16*, Trans, const bf16*, Trans, float*, int64_t, int64_t, int64_t,
                            cudaStream_t, float, float, const float*);
template void matmul<bf16>(Blas&, const bf16*, Trans, const bf16*, Trans, bf16*, int64_t, int64_t, int64_t,
                           cudaStream_t, float, float, const bf16*);
template void matmul<float>(Blas&, const bf16*, Trans, const bf16*, Trans, float*, int64_t, int64_t, int64_t,
                            cudaStream_t, float, float, const float*, const Epilogue&);
template void matmul<bf16>(Blas&, const bf16*, Trans, const bf16*, Trans, bf16*, int64_t, int64_t, int64_t,
                           cudaStream_t, float, float, const bf16*, const Epilogue&);
template bool try_matmul<float>(Blas&, const bf16*, Trans, const bf16*, Trans, float*, int64_t, int64_t, int64_t,
                                cudaStream_t, float, float, const float*, const Epilogue&);
template bool try_matmul<bf16>(Blas&, const bf16*, Trans, const bf16*, Trans, bf16*, int64_t, int64_t, int64_t,
                               cudaStream_t, float, float, const bf16*, const Epilogue&);

}  // namespace tandem::cuda
