// Model-state memory per ZeRO stage (estimate.hpp). The ZeRO-2 and ZeRO-3 figures follow DeepSpeed's
// estimators term by term, including where Python truncates (int(...)) and in which order it
// multiplies, so that the numbers are the ones DeepSpeed prints.
#include "tandem/estimate.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace tandem {

namespace {

// Bytes per parameter of each kind of model state, for the two precisions.
struct Accounting {
  int64_t params;         // working params (16-bit, or fp32 that are also the master)
  int64_t grads;          // working grads as the stage keeps them before partitioning
  int64_t partitioned;    // what ZeRO-1 partitions: fp32 grads + fp32 master + moments (bf16: 16; fp32: moments)
  int64_t host_offload;   // host bytes per parameter under offload_optimizer (DeepSpeed: 16)
  int64_t host_both;      // ... under offload_optimizer and offload_param (DeepSpeed: 18)
};

Accounting accounting(EstimateInputs::Dtype dtype) {
  if (dtype == EstimateInputs::Dtype::Bf16) return {2, 2, 16, 16, 18};
  return {4, 4, 8, 16, 20};
}

uint64_t truncate(double bytes) { return static_cast<uint64_t>(bytes); }  // Python's int() of a positive float

}  // namespace

std::vector<StageEstimate> estimate_model_states(const EstimateInputs& in) {
  if (in.params < 1) throw std::invalid_argument("estimate: the parameter count must be at least 1");
  if (in.world_size < 1) throw std::invalid_argument("estimate: the world size must be at least 1");
  if (in.nodes < 1 || in.world_size % in.nodes != 0)
    throw std::invalid_argument("estimate: the world size (" + std::to_string(in.world_size) +
                                ") must be a multiple of the node count (" + std::to_string(in.nodes) + ")");
  if (in.largest_layer_params < 0 || in.largest_layer_params > in.params)
    throw std::invalid_argument("estimate: the largest layer's parameters must be in [0, params]");
  if (!(in.buffer_factor >= 1.0)) throw std::invalid_argument("estimate: the buffer factor must be at least 1");

  const Accounting a = accounting(in.dtype);
  const double P = static_cast<double>(in.params);
  const int64_t G = in.world_size;
  const int64_t per_node = in.world_size / in.nodes;
  const double B = in.buffer_factor;
  const double node_factor = 1.0 / static_cast<double>(in.nodes);  // DeepSpeed's gpus_factor
  // Without offload the host holds the model as each process loads it: fp32, once per local rank.
  const uint64_t host_loading = truncate(P * static_cast<double>(4 * per_node) * B);
  // DeepSpeed's ZeRO-2 host figure under offload: the larger of the per-process fp32 copies and the
  // offloaded optimizer side.
  const uint64_t host_offload_12 =
      truncate(P * static_cast<double>(std::max<int64_t>(4 * G, a.host_offload)) * B);
  const uint64_t working_params = static_cast<uint64_t>(a.params * in.params);
  const uint64_t working_grads = static_cast<uint64_t>(a.grads * in.params);
  const std::string param_note = in.offload_param ? "offload_param applies to ZeRO-3 only; ignored here" : "";

  std::vector<StageEstimate> rows(4);
  for (int s = 0; s < 4; ++s) rows[s].stage = s;

  // Stage 0: every rank holds everything; DeepSpeed offloads the optimizer under ZeRO 1-3 only.
  if (in.offload_optimizer) {
    rows[0].applicable = false;
    rows[0].note = "offload_optimizer needs ZeRO stage 1, 2 or 3";
  } else {
    rows[0].device_bytes = working_params + working_grads + static_cast<uint64_t>(a.partitioned * in.params);
    rows[0].host_bytes = host_loading;
    rows[0].note = param_note;
  }

  // Stage 1: the optimizer side partitioned; whole working params and grads.
  if (in.offload_optimizer) {
    rows[1].device_bytes = working_params + working_grads;
    rows[1].host_bytes = host_offload_12;
  } else {
    rows[1].device_bytes = working_params + working_grads + truncate(static_cast<double>(a.partitioned) * P / G);
    rows[1].host_bytes = host_loading;
  }
  rows[1].note = param_note;

  // Stage 2: DeepSpeed's estimate_zero2_model_states_mem_needs (16-bit grads partitioned too).
  if (in.offload_optimizer) {
    rows[2].device_bytes = working_params;
    rows[2].host_bytes = host_offload_12;
  } else {
    rows[2].device_bytes = working_params + truncate(static_cast<double>(a.grads + a.partitioned) * P / G);
    rows[2].host_bytes = host_loading;
  }
  rows[2].note = param_note;

  // Stage 3: DeepSpeed's estimate_zero3_model_states_mem_needs. The gathered working set is the
  // largest layer, counted at 4 bytes a parameter as DeepSpeed counts it.
  const uint64_t largest = static_cast<uint64_t>(4 * in.largest_layer_params);
  const double per_node_d = static_cast<double>(4 * per_node);
  StageEstimate& z3 = rows[3];
  if (in.offload_optimizer && in.offload_param) {
    z3.device_bytes = largest;
    z3.host_bytes = in.zero_init ? truncate(P * static_cast<double>(a.host_both) * node_factor * B)
                                 : truncate(P * std::max(per_node_d, a.host_both * node_factor) * B);
  } else if (in.offload_optimizer) {
    z3.device_bytes = largest + truncate(static_cast<double>(a.params) * P / G);
    z3.host_bytes = in.zero_init ? truncate(P * static_cast<double>(a.host_offload) * node_factor * B)
                                 : truncate(P * std::max(per_node_d, a.host_offload * node_factor) * B);
  } else if (in.offload_param) {
    z3.applicable = false;
    z3.note = "DeepSpeed's estimator has no row for offload_param without offload_optimizer";
  } else {
    // bf16: DeepSpeed's 18 = 2 (16-bit params) + 16 (fp32 grads, master, moments); fp32: 4 + 4 + 8.
    const int64_t per_param = in.dtype == EstimateInputs::Dtype::Bf16 ? a.params + a.partitioned
                                                                       : a.params + a.grads + a.partitioned;
    z3.device_bytes = largest + truncate(static_cast<double>(per_param) * P / G);
    z3.host_bytes = in.zero_init ? truncate(static_cast<double>(in.largest_layer_params) * per_node_d * B)
                                 : host_loading;
  }
  if (z3.applicable && in.largest_layer_params == 0)
    z3.note = "without --largest-layer-params the gathered working set is not counted";
  return rows;
}

std::string format_estimate(const EstimateInputs& in, const std::vector<StageEstimate>& rows, bool bytes) {
  auto amount = [&](uint64_t b) {
    char text[48];
    if (bytes)
      std::snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(b));
    else
      std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0));
    return std::string(text);
  };
  std::ostringstream out;
  out << "Model states (params, gradients, optimizer state) for " << in.params << " parameters";
  if (in.largest_layer_params > 0) out << " (largest layer " << in.largest_layer_params << ")";
  out << ", " << in.world_size << (in.world_size == 1 ? " rank" : " ranks") << " on " << in.nodes
      << (in.nodes == 1 ? " node" : " nodes") << ", "
      << (in.dtype == EstimateInputs::Dtype::Bf16 ? "bf16 params with fp32 master weights" : "fp32 params")
      << " and Adam; offload_optimizer=" << (in.offload_optimizer ? "cpu" : "none")
      << ", offload_param=" << (in.offload_param ? "cpu" : "none");
  if (in.zero_init == false) out << ", without zero.Init";
  out << "\n(DeepSpeed's estimators for ZeRO-2 and ZeRO-3, host side x" << in.buffer_factor << ")\n\n";
  const int w = bytes ? 16 : 12;
  char line[256];
  std::snprintf(line, sizeof line, "%-6s  %*s  %*s  %s\n", "stage", w, "per device", w, "per node host", "");
  out << line;
  for (const StageEstimate& r : rows) {
    if (r.applicable)
      std::snprintf(line, sizeof line, "ZeRO-%d  %*s  %*s  %s\n", r.stage, w, amount(r.device_bytes).c_str(), w,
                    amount(r.host_bytes).c_str(), r.note.c_str());
    else
      std::snprintf(line, sizeof line, "ZeRO-%d  %*s  %*s  %s\n", r.stage, w, "n/a", w, "n/a", r.note.c_str());
    out << line;
  }
  return out.str();
}

}  // namespace tandem
