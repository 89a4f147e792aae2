// The cuDNN SDPA graphs and their plans (cudnn_sdpa.hpp says what they compute and why this shape).
#include "cudnn_sdpa.hpp"

#if TANDEM_HAVE_CUDNN_HEADERS

#include <array>
#include <cmath>
#include <limits>
#include <utility>

namespace tandem::cuda::detail {

std::string SdpaShape::str() const {
  return "B=" + std::to_string(B) + " T=" + std::to_string(T) + " C=" + std::to_string(C) + " H=" + std::to_string(H);
}

CudnnDescriptor::CudnnDescriptor(const CudnnLibrary& lib, cudnnBackendDescriptorType_t type, const char* what)
    : lib_(&lib) {
  lib.check(lib.create_descriptor(type, &d_), std::string("cudnnBackendCreateDescriptor(") + what + ")");
}
CudnnDescriptor::~CudnnDescriptor() {
  if (d_) (void)lib_->destroy_descriptor(d_);
}
CudnnDescriptor::CudnnDescriptor(CudnnDescriptor&& o) noexcept : lib_(o.lib_), d_(std::exchange(o.d_, nullptr)) {}

namespace {

// The fixed unique ids of the tensors a run binds (the variant pack); virtual tensors count from 100.
enum Uid : int64_t {
  kQ = 1,
  kK,  // K^T in both graphs
  kV,  // V in the forward, V^T in the backward
  kO,
  kStats,
  kScale,
  kNegativeInfinity,
  kDO,
  kDQ,
  kDK,
  kDV,
  kOne,
  kSoftmaxSum,  // rowsum(dO * O), fp32, in tandem's part of the workspace
  kFirstVirtual = 100,
};

using Dims = std::array<int64_t, 4>;

Dims packed(const Dims& d) { return {d[1] * d[2] * d[3], d[2] * d[3], d[3], 1}; }

}  // namespace

// Builds descriptors in the order the graph needs them and owns them all.
struct SdpaPlan::Graph {
  const CudnnLibrary& lib;
  std::vector<CudnnDescriptor> owned;
  std::vector<cudnnBackendDescriptor_t> operations;
  int64_t next_uid = kFirstVirtual;
  std::unique_ptr<CudnnDescriptor> graph;

  explicit Graph(const CudnnLibrary& l) : lib(l) {}

  void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
           int64_t count, const void* value, const char* what) {
    lib.check(lib.set_attribute(d, name, type, count, value),
              std::string("cudnnBackendSetAttribute(") + what + ", attribute " + std::to_string(int(name)) + ")");
  }
  void set_descriptor(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendDescriptor_t value,
                      const char* what) {
    set(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value, what);
  }
  cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t type, const char* what) {
    owned.emplace_back(lib, type, what);
    return owned.back().get();
  }
  void finalize(cudnnBackendDescriptor_t d, const char* what) {
    lib.check(lib.finalize(d), std::string("cudnnBackendFinalize(") + what + ")");
  }

  cudnnBackendDescriptor_t tensor(int64_t uid, cudnnDataType_t type, const Dims& dims, const Dims& strides,
                                  bool is_virtual, bool by_value = false) {
    auto t = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR, "tensor");
    const int64_t alignment = 16;
    set(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type, "tensor data type");
    set(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data(), "tensor dimensions");
    set(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data(), "tensor strides");
    set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, "tensor unique id");
    set(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment, "tensor byte alignment");
    set(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual, "tensor is virtual");
    if (by_value) set(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value, "tensor is by value");
    finalize(t, ("tensor " + std::to_string(uid)).c_str());
    return t;
  }
  cudnnBackendDescriptor_t virtual_tensor(cudnnDataType_t type, const Dims& dims, const Dims& strides) {
    return tensor(next_uid++, type, dims, strides, true);
  }
  cudnnBackendDescriptor_t virtual_tensor(cudnnDataType_t type, const Dims& dims) {
    return virtual_tensor(type, dims, packed(dims));
  }
  cudnnBackendDescriptor_t scalar(int64_t uid) {
    return tensor(uid, CUDNN_DATA_FLOAT, {1, 1, 1, 1}, {1, 1, 1, 1}, false, true);
  }

  // y = mode(x[, b[, t]]), computed in `precision`.
  void pointwise(cudnnPointwiseMode_t mode, cudnnDataType_t precision, cudnnBackendDescriptor_t x,
                 cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y,
                 int64_t axis = -1) {
    auto desc = make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "pointwise");
    set(desc, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, "pointwise mode");
    set(desc, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision, "pointwise precision");
    if (axis >= 0) set(desc, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis, "pointwise axis");
    finalize(desc, "pointwise");
    auto op = make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "pointwise operation");
    set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, desc, "pointwise operation");
    set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x, "pointwise x");
    if (b) set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b, "pointwise b");
    if (t) set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t, "pointwise t");
    set_descriptor(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y, "pointwise y");
    finalize(op, ("pointwise operation " + std::to_string(int(mode))).c_str());
    operations.push_back(op);
  }
  void pointwise(cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                 cudnnBackendDescriptor_t y) {
    pointwise(mode, CUDNN_DATA_FLOAT, x, b, nullptr, y);
  }
  // y = reduce(x) over the dimensions where y has extent 1.
  void reduction(cudnnReduceTensorOp_t op_type, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y) {
    auto desc = make(CUDNN_BACKEND_REDUCTION_DESCRIPTOR, "reduction");
    const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
    set(desc, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &op_type, "reduction operator");
    set(desc, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &precision, "reduction precision");
    finalize(desc, "reduction");
    auto op = make(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, "reduction operation");
    set_descriptor(op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x, "reduction x");
    set_descriptor(op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y, "reduction y");
    set_descriptor(op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, desc, "reduction operation");
    finalize(op, "reduction operation");
    operations.push_back(op);
  }
  // c = a b over the last two dimensions (fp32 accumulation), batched over the first two.
  void matmul(cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t c) {
    auto desc = make(CUDNN_BACKEND_MATMUL_DESCRIPTOR, "matmul");
    const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
    set(desc, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &precision, "matmul precision");
    finalize(desc, "matmul");
    auto op = make(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "matmul operation");
    set_descriptor(op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a, "matmul a");
    set_descriptor(op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, b, "matmul b");
    set_descriptor(op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c, "matmul c");
    set_descriptor(op, CUDNN_ATTR_OPERATION_MATMUL_DESC, desc, "matmul operation");
    finalize(op, "matmul operation");
    operations.push_back(op);
  }
  // y: the same elements as x seen with other dimensions and strides (here: a transpose).
  void reshape(cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y) {
    auto op = make(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR, "reshape operation");
    set_descriptor(op, CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x, "reshape x");
    set_descriptor(op, CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y, "reshape y");
    finalize(op, "reshape operation");
    operations.push_back(op);
  }
  // The causal mask on scores s [B, H, Tq, Tk]: query i keeps keys j <= i (top-left aligned), the
  // others become -inf. As the frontend lowers it: row and column indices, row >= column, select.
  cudnnBackendDescriptor_t causal_mask(cudnnBackendDescriptor_t s, const Dims& dims, cudnnBackendDescriptor_t neg_inf) {
    auto row = virtual_tensor(CUDNN_DATA_INT32, dims);
    auto col = virtual_tensor(CUDNN_DATA_INT32, dims);
    auto keep = virtual_tensor(CUDNN_DATA_BOOLEAN, dims);
    auto masked = virtual_tensor(CUDNN_DATA_FLOAT, dims);
    pointwise(CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_INT32, s, nullptr, nullptr, row, 2);
    pointwise(CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_INT32, s, nullptr, nullptr, col, 3);
    pointwise(CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, row, col, nullptr, keep);
    // BINARY_SELECT: y = t ? x : b.
    pointwise(CUDNN_POINTWISE_BINARY_SELECT, CUDNN_DATA_FLOAT, s, neg_inf, keep, masked);
    return masked;
  }

  void finalize_graph(cudnnHandle_t handle) {
    graph = std::make_unique<CudnnDescriptor>(lib, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph");
    set(graph->get(), CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(operations.size()),
        operations.data(), "operation graph operations");
    set(graph->get(), CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "operation graph handle");
    finalize(graph->get(), "operation graph");
  }
};

namespace {

void build_forward(SdpaPlan::Graph& g, const SdpaShape& s) {
  const int64_t B = s.B, H = s.H, T = s.T, C = s.C, D = s.hd();
  const Dims qkv_strides{T * 3 * C, D, 3 * C, 1}, qkv_t_strides{T * 3 * C, D, 1, 3 * C};
  const Dims rows{B, H, T, D}, rows_t{B, H, D, T}, scores{B, H, T, T}, stats{B, H, T, 1};
  auto q = g.tensor(kQ, CUDNN_DATA_BFLOAT16, rows, qkv_strides, false);
  auto kt = g.tensor(kK, CUDNN_DATA_BFLOAT16, rows_t, qkv_t_strides, false);
  auto v = g.tensor(kV, CUDNN_DATA_BFLOAT16, rows, qkv_strides, false);
  auto o = g.tensor(kO, CUDNN_DATA_BFLOAT16, rows, {T * C, D, C, 1}, false);
  auto lse = g.tensor(kStats, CUDNN_DATA_FLOAT, stats, packed(stats), false);
  auto scale = g.scalar(kScale);
  auto neg_inf = g.scalar(kNegativeInfinity);

  auto qk = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.matmul(q, kt, qk);
  auto scaled = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_MUL, qk, scale, scaled);
  auto masked = g.causal_mask(scaled, scores, neg_inf);
  // The softmax, its statistics kept: lse = max + log(sum(exp(s - max))).
  auto max = g.virtual_tensor(CUDNN_DATA_FLOAT, stats);
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, masked, max);
  auto shifted = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_SUB, masked, max, shifted);
  auto exps = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_EXP, CUDNN_DATA_FLOAT, shifted, nullptr, nullptr, exps);
  auto sum = g.virtual_tensor(CUDNN_DATA_FLOAT, stats);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, exps, sum);
  auto log_sum = g.virtual_tensor(CUDNN_DATA_FLOAT, stats);
  g.pointwise(CUDNN_POINTWISE_LOG, CUDNN_DATA_FLOAT, sum, nullptr, nullptr, log_sum);
  g.pointwise(CUDNN_POINTWISE_ADD, max, log_sum, lse);
  // The probabilities enter the second product in the input type (the engine's requirement).
  auto p = g.virtual_tensor(CUDNN_DATA_BFLOAT16, scores);
  g.pointwise(CUDNN_POINTWISE_DIV, exps, sum, p);
  g.matmul(p, v, o);
}

void build_backward(SdpaPlan::Graph& g, const SdpaShape& s) {
  const int64_t B = s.B, H = s.H, T = s.T, C = s.C, D = s.hd();
  const Dims qkv_strides{T * 3 * C, D, 3 * C, 1}, qkv_t_strides{T * 3 * C, D, 1, 3 * C}, y_strides{T * C, D, C, 1};
  const Dims rows{B, H, T, D}, rows_t{B, H, D, T}, scores{B, H, T, T}, stats{B, H, T, 1};
  const Dims scores_t_strides{H * T * T, T * T, 1, T};  // [B, H, Tk, Tq] over the same memory
  auto q = g.tensor(kQ, CUDNN_DATA_BFLOAT16, rows, qkv_strides, false);
  auto kt = g.tensor(kK, CUDNN_DATA_BFLOAT16, rows_t, qkv_t_strides, false);
  auto vt = g.tensor(kV, CUDNN_DATA_BFLOAT16, rows_t, qkv_t_strides, false);
  auto o = g.tensor(kO, CUDNN_DATA_BFLOAT16, rows, y_strides, false);
  auto d_o = g.tensor(kDO, CUDNN_DATA_BFLOAT16, rows, y_strides, false);
  auto lse = g.tensor(kStats, CUDNN_DATA_FLOAT, stats, packed(stats), false);
  auto dq = g.tensor(kDQ, CUDNN_DATA_BFLOAT16, rows, qkv_strides, false);
  auto dk = g.tensor(kDK, CUDNN_DATA_BFLOAT16, rows, qkv_strides, false);
  auto dv = g.tensor(kDV, CUDNN_DATA_BFLOAT16, rows, qkv_strides, false);
  auto scale = g.scalar(kScale);
  auto neg_inf = g.scalar(kNegativeInfinity);
  auto one = g.scalar(kOne);
  auto softmax_sum = g.tensor(kSoftmaxSum, CUDNN_DATA_FLOAT, stats, packed(stats), false);

  // D = rowsum(dO * O), kept in memory (the frontend's softmax_sum).
  auto do_o = g.virtual_tensor(CUDNN_DATA_FLOAT, rows);
  g.pointwise(CUDNN_POINTWISE_MUL, d_o, o, do_o);
  auto row_sum = g.virtual_tensor(CUDNN_DATA_FLOAT, stats);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, do_o, row_sum);
  g.pointwise(CUDNN_POINTWISE_MUL, row_sum, one, softmax_sum);

  // P = exp(Q K^T * scale - lse), masked.
  auto qk = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.matmul(q, kt, qk);
  auto scaled = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_MUL, qk, scale, scaled);
  auto shifted = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_SUB, scaled, lse, shifted);
  auto masked = g.causal_mask(shifted, scores, neg_inf);
  auto p = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_EXP, CUDNN_DATA_FLOAT, masked, nullptr, nullptr, p);

  // dV = P^T dO.
  auto p_t = g.virtual_tensor(CUDNN_DATA_BFLOAT16, {B, H, T, T}, scores_t_strides);
  g.reshape(p, p_t);
  g.matmul(p_t, d_o, dv);

  // dS = P * (dO V^T - D) * scale.
  auto dp = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.matmul(d_o, vt, dp);
  auto dp_minus = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_SUB, dp, softmax_sum, dp_minus);
  auto ds_unscaled = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_MUL, dp_minus, p, ds_unscaled);
  auto ds = g.virtual_tensor(CUDNN_DATA_FLOAT, scores);
  g.pointwise(CUDNN_POINTWISE_MUL, ds_unscaled, scale, ds);

  // dK = dS^T Q.
  auto ds_t = g.virtual_tensor(CUDNN_DATA_BFLOAT16, {B, H, T, T}, scores_t_strides);
  g.reshape(ds, ds_t);
  g.matmul(ds_t, q, dk);

  // dQ = dS K, K seen through K^T's memory; written straight into dqkv (no fp32 accumulator:
  // the deterministic form).
  auto k = g.virtual_tensor(CUDNN_DATA_FLOAT, rows, qkv_strides);
  g.reshape(kt, k);
  g.matmul(ds, k, dq);
}

std::string note_names(const std::vector<cudnnBackendNumericalNote_t>& notes) {
  static const char* const names[] = {"TENSOR_CORE",     "DOWN_CONVERT_INPUTS", "REDUCED_PRECISION_REDUCTION",
                                      "FFT",             "NONDETERMINISTIC",    "WINOGRAD",
                                      "WINOGRAD_TILE_4x4", "WINOGRAD_TILE_6x6", "WINOGRAD_TILE_13x13",
                                      "STRICT_NAN_PROP"};
  std::string r;
  for (auto n : notes) {
    if (!r.empty()) r += ",";
    const int i = static_cast<int>(n);
    r += i >= 0 && i < int(sizeof names / sizeof *names) ? names[i] : std::to_string(i);
  }
  return r.empty() ? "none" : r;
}

}  // namespace

SdpaPlan::SdpaPlan(const CudnnLibrary& lib, const SdpaShape& shape, SdpaDirection direction)
    : lib_(lib), shape_(shape), direction_(direction), graph_(std::make_unique<Graph>(lib)) {
  scale_ = 1.0f / std::sqrt(static_cast<float>(shape.hd()));
  negative_infinity_ = -std::numeric_limits<float>::infinity();
}

SdpaPlan::~SdpaPlan() = default;

std::unique_ptr<SdpaPlan> SdpaPlan::build(const CudnnLibrary& lib, cudnnHandle_t handle, const SdpaShape& shape,
                                          SdpaDirection direction, std::vector<std::string>& log) {
  const std::string what =
      std::string(direction == SdpaDirection::forward ? "forward " : "backward ") + shape.str() + ": ";
  std::unique_ptr<SdpaPlan> plan(new SdpaPlan(lib, shape, direction));
  Graph& g = *plan->graph_;
  try {
    if (direction == SdpaDirection::forward)
      build_forward(g, shape);
    else
      build_backward(g, shape);
    g.finalize_graph(handle);
  } catch (const CudnnError& e) {
    log.push_back(what + "building the operation graph failed: " + e.what());
    throw;
  }
  log.push_back(what + "operation graph finalized (" + std::to_string(g.operations.size()) + " operations)");

  std::vector<std::string> refused;
  for (const cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    const char* mode_name = mode == CUDNN_HEUR_MODE_A ? "A" : "FALLBACK";
    CudnnDescriptor heur(lib, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "engine heuristics");
    int64_t count = 0;
    try {
      auto graph = g.graph->get();
      g.set_descriptor(heur.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph, "heuristics graph");
      g.set(heur.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heuristics mode");
      g.finalize(heur.get(), "engine heuristics");
      lib.check(lib.get_attribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                                  nullptr),
                "cudnnBackendGetAttribute(heuristics results count)");
    } catch (const CudnnError& e) {
      log.push_back(what + "heuristics mode " + mode_name + " failed: " + e.what());
      refused.push_back(std::string("heuristics mode ") + mode_name + ": " + e.what());
      continue;
    }
    log.push_back(what + "heuristics mode " + mode_name + ": " + std::to_string(count) + " engine configs");
    if (count <= 0) continue;
    std::vector<CudnnDescriptor> configs;
    std::vector<cudnnBackendDescriptor_t> raw;
    for (int64_t i = 0; i < count; ++i) {
      configs.emplace_back(lib, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine config");
      raw.push_back(configs.back().get());
    }
    int64_t returned = 0;
    lib.check(lib.get_attribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                &returned, raw.data()),
              "cudnnBackendGetAttribute(heuristics results)");
    for (int64_t i = 0; i < returned; ++i) {
      const std::string cfg = what + "mode " + mode_name + " config " + std::to_string(i);
      try {
        CudnnDescriptor engine(lib, CUDNN_BACKEND_ENGINE_DESCRIPTOR, "engine");
        auto engine_raw = engine.get();
        int64_t n = 0;
        lib.check(lib.get_attribute(raw[size_t(i)], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n,
                                    &engine_raw),
                  "cudnnBackendGetAttribute(engine config's engine)");
        int64_t index = -1;
        lib.check(lib.get_attribute(engine_raw, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &index),
                  "cudnnBackendGetAttribute(engine global index)");
        std::vector<cudnnBackendNumericalNote_t> notes(CUDNN_NUMERICAL_NOTE_TYPE_COUNT);
        int64_t n_notes = 0;
        lib.check(lib.get_attribute(engine_raw, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                    int64_t(notes.size()), &n_notes, notes.data()),
                  "cudnnBackendGetAttribute(engine numerical notes)");
        notes.resize(size_t(n_notes));
        const std::string described = cfg + " (engine " + std::to_string(index) + ", notes " + note_names(notes) + ")";
        bool deterministic = true;
        for (auto note : notes) deterministic = deterministic && note != CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC;
        if (!deterministic) {
          log.push_back(described + ": refused, not deterministic");
          refused.push_back(described + ": not deterministic");
          continue;
        }
        auto exec = std::make_unique<CudnnDescriptor>(lib, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "execution plan");
        g.set(exec->get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle, "execution plan handle");
        g.set_descriptor(exec->get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, raw[size_t(i)], "execution plan config");
        g.finalize(exec->get(), "execution plan");
        lib.check(lib.get_attribute(exec->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n,
                                    &plan->cudnn_workspace_),
                  "cudnnBackendGetAttribute(execution plan workspace size)");
        log.push_back(described + ": plan finalized, workspace " + std::to_string(plan->cudnn_workspace_) + " bytes");
        plan->plan_ = std::move(exec);
        plan->config_ = std::make_unique<CudnnDescriptor>(std::move(configs[size_t(i)]));  // kept with its plan
        return plan;
      } catch (const CudnnError& e) {
        log.push_back(cfg + ": " + e.what());
        refused.push_back(cfg + ": " + e.what());
      }
    }
  }
  std::string reasons;
  for (const auto& r : refused) reasons += "; " + r;
  throw Error("cuDNN: no deterministic execution plan for the attention " + what + "heuristics offered none usable" +
              reasons);
}

size_t SdpaPlan::workspace_bytes() const {
  size_t bytes = (static_cast<size_t>(cudnn_workspace_) + 255) / 256 * 256;
  if (direction_ == SdpaDirection::backward) bytes += static_cast<size_t>(shape_.B * shape_.H * shape_.T) * sizeof(float);
  return bytes;
}

void SdpaPlan::execute(cudnnHandle_t handle, const std::vector<int64_t>& uids, const std::vector<void*>& pointers,
                       void* workspace) const {
  CudnnDescriptor pack(lib_, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "variant pack");
  graph_->set(pack.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, int64_t(uids.size()), uids.data(),
              "variant pack ids");
  graph_->set(pack.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, int64_t(pointers.size()),
              pointers.data(), "variant pack pointers");
  graph_->set(pack.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace,
              "variant pack workspace");
  graph_->finalize(pack.get(), "variant pack");
  lib_.check(lib_.execute(handle, plan_->get(), pack.get()),
             std::string("cudnnBackendExecute(attention ") +
                 (direction_ == SdpaDirection::forward ? "forward " : "backward ") + shape_.str() + ")");
}

namespace {
// Byte offsets of k and v inside a row of qkv: C and 2C bf16 elements.
const void* part(const void* qkv, int64_t C, int p) { return static_cast<const char*>(qkv) + p * C * 2; }
void* part(void* qkv, int64_t C, int p) { return static_cast<char*>(qkv) + p * C * 2; }
void* mutable_ptr(const void* p) { return const_cast<void*>(p); }  // the variant pack's type; cuDNN only reads inputs
void* by_value(const float& v) { return const_cast<float*>(&v); }
}  // namespace

void SdpaPlan::run_forward(cudnnHandle_t handle, const void* qkv, void* y, float* lse, void* workspace) const {
  const int64_t C = shape_.C;
  execute(handle, {kQ, kK, kV, kO, kStats, kScale, kNegativeInfinity},
          {mutable_ptr(qkv), mutable_ptr(part(qkv, C, 1)), mutable_ptr(part(qkv, C, 2)), y, lse, by_value(scale_),
           by_value(negative_infinity_)},
          workspace);
}

void SdpaPlan::run_backward(cudnnHandle_t handle, const void* dy, const void* qkv, const void* y, const float* lse,
                            void* dqkv, void* workspace) const {
  const int64_t C = shape_.C;
  // tandem's part of the workspace, after cuDNN's: the row sums D, [B, H, T] fp32.
  void* softmax_sum = static_cast<char*>(workspace) + (static_cast<size_t>(cudnn_workspace_) + 255) / 256 * 256;
  execute(handle,
          {kQ, kK, kV, kO, kDO, kStats, kDQ, kDK, kDV, kScale, kNegativeInfinity, kOne, kSoftmaxSum},
          {mutable_ptr(qkv), mutable_ptr(part(qkv, C, 1)), mutable_ptr(part(qkv, C, 2)), mutable_ptr(y),
           mutable_ptr(dy), mutable_ptr(lse), dqkv, part(dqkv, C, 1), part(dqkv, C, 2), by_value(scale_),
           by_value(negative_infinity_), by_value(one_), softmax_sum},
          workspace);
}

}  // namespace tandem::cuda::detail

#endif  // TANDEM_HAVE_CUDNN_HEADERS
