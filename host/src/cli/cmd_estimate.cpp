// `tandem estimate`: model-state memory per rank under each ZeRO stage (see tandem/estimate.hpp).
#include <iostream>

#include "cli/cli.hpp"
#include "tandem/estimate.hpp"

namespace tandem::cli {

int run_estimate(const Args& args) {
  constexpr const char* kUsage =
      "usage: tandem estimate --params N --world-size W [--nodes M] [--largest-layer-params L]\n"
      "           [--offload-optimizer] [--offload-param] [--no-zero-init] [--dtype bf16|fp32]\n"
      "           [--buffer-factor F] [--bytes]\n"
      "Prints the memory that parameters, gradients and optimizer state take per rank (device) and per\n"
      "node (host) under ZeRO stages 0-3, with DeepSpeed's estimators (ZeRO-2 and ZeRO-3) and the same\n"
      "accounting for stages 0 and 1.";
  EstimateInputs in;
  std::string dtype = "bf16";
  po::options_description options("tandem estimate");
  options.add_options()("params", po::value(&in.params)->required(), "total parameters")(
      "world-size", po::value(&in.world_size)->required(), "ranks over all nodes")(
      "nodes", po::value(&in.nodes)->default_value(1), "nodes (the world size is a multiple)")(
      "largest-layer-params", po::value(&in.largest_layer_params)->default_value(0),
      "parameters of the largest layer (ZeRO-3 gathers it whole)")(
      "offload-optimizer", "optimizer state and master weights in host memory (offload_optimizer.device cpu)")(
      "offload-param", "ZeRO-3 parameters in host memory (offload_param.device cpu)")(
      "no-zero-init", "ZeRO-3: the model is built whole before it is partitioned")(
      "dtype", po::value(&dtype)->default_value("bf16"), "bf16 (fp32 master weights) or fp32")(
      "buffer-factor", po::value(&in.buffer_factor)->default_value(1.5), "DeepSpeed's additional_buffer_factor")(
      "bytes", "exact bytes instead of GiB");
  po::positional_options_description positional;
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  in.offload_optimizer = vm.count("offload-optimizer") > 0;
  in.offload_param = vm.count("offload-param") > 0;
  in.zero_init = vm.count("no-zero-init") == 0;
  if (dtype == "bf16")
    in.dtype = EstimateInputs::Dtype::Bf16;
  else if (dtype == "fp32")
    in.dtype = EstimateInputs::Dtype::Fp32;
  else
    throw UsageError("--dtype must be bf16 or fp32, not '" + dtype + "'");
  try {
    std::cout << format_estimate(in, estimate_model_states(in), vm.count("bytes") > 0);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return kExitOk;
}

}  // namespace tandem::cli
