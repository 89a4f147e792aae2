// `tandem estimate`: the ZeRO-2 and ZeRO-3 rows are DeepSpeed's estimators, transcribed here from
// deepspeed/runtime/zero/stage_1_and_2.py and stage3.py as written (Python's int() truncation and
// multiplication order included) and compared over a grid of inputs; stages 0 and 1 and the fp32
// accounting are checked against their documented per-parameter byte counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "tandem/estimate.hpp"

namespace tandem {
namespace {

struct Mem {
  uint64_t cpu, gpu;
};

// estimate_zero2_model_states_mem_needs(total_params, num_gpus_per_node, num_nodes, cpu_offload,
// additional_buffer_factor)
Mem deepspeed_zero2(double total_params, int64_t num_gpus_per_node, int64_t num_nodes, bool cpu_offload,
                    double additional_buffer_factor) {
  const int64_t total_gpus = num_nodes * num_gpus_per_node;
  double gpu_mem, cpu_mem;
  if (cpu_offload) {
    gpu_mem = 2 * total_params;
    cpu_mem = total_params * static_cast<double>(std::max<int64_t>(4 * total_gpus, 16)) * additional_buffer_factor;
  } else {
    gpu_mem = 2 * total_params + static_cast<double>(static_cast<uint64_t>(18 * total_params / total_gpus));
    cpu_mem = total_params * 4 * static_cast<double>(num_gpus_per_node) * additional_buffer_factor;
  }
  return {static_cast<uint64_t>(cpu_mem), static_cast<uint64_t>(gpu_mem)};
}

// estimate_zero3_model_states_mem_needs(total_params, largest_layer_params, num_gpus_per_node,
// num_nodes, cpu_offload, cpu_offload_params, zero_init, additional_buffer_factor)
Mem deepspeed_zero3(double total_params, double largest_layer_params, int64_t num_gpus_per_node, int64_t num_nodes,
                    bool cpu_offload, bool cpu_offload_params, bool zero_init, double additional_buffer_factor) {
  const int64_t total_gpus = num_nodes * num_gpus_per_node;
  const double gpus_factor = 1.0 / static_cast<double>(num_nodes);
  const double largest_layer_memory = 4 * largest_layer_params;
  const double gpn4 = static_cast<double>(4 * num_gpus_per_node);
  double gpu_mem, cpu_mem;
  if (cpu_offload) {
    if (cpu_offload_params) {
      gpu_mem = largest_layer_memory;
      cpu_mem = zero_init ? total_params * 18 * gpus_factor * additional_buffer_factor
                          : total_params * std::max(gpn4, 18 * gpus_factor) * additional_buffer_factor;
    } else {
      gpu_mem = largest_layer_memory + static_cast<double>(static_cast<uint64_t>(2 * total_params / total_gpus));
      cpu_mem = zero_init ? total_params * 16 * gpus_factor * additional_buffer_factor
                          : total_params * std::max(gpn4, 16 * gpus_factor) * additional_buffer_factor;
    }
  } else {
    gpu_mem = largest_layer_memory + static_cast<double>(static_cast<uint64_t>(18 * total_params / total_gpus));
    cpu_mem = zero_init ? largest_layer_params * 4 * static_cast<double>(num_gpus_per_node) * additional_buffer_factor
                        : total_params * 4 * static_cast<double>(num_gpus_per_node) * additional_buffer_factor;
  }
  return {static_cast<uint64_t>(cpu_mem), static_cast<uint64_t>(gpu_mem)};
}

TEST(Estimate, ZeRO2AndZeRO3AreDeepSpeedsEstimators) {
  int checked = 0;
  for (int64_t params : {int64_t{1}, int64_t{123'456'789}, int64_t{2'851'000'000}, int64_t{175'000'000'000}})
    for (auto [world, nodes] : {std::pair<int64_t, int64_t>{1, 1}, {2, 1}, {8, 1}, {16, 2}, {64, 8}, {3, 3}})
      for (bool offload_optimizer : {false, true})
        for (bool offload_param : {false, true})
          for (bool zero_init : {true, false}) {
            EstimateInputs in;
            in.params = params;
            in.largest_layer_params = params / 7;
            in.world_size = world;
            in.nodes = nodes;
            in.offload_optimizer = offload_optimizer;
            in.offload_param = offload_param;
            in.zero_init = zero_init;
            const std::vector<StageEstimate> rows = estimate_model_states(in);
            ASSERT_EQ(rows.size(), 4u);
            const double P = static_cast<double>(params);
            const Mem z2 = deepspeed_zero2(P, world / nodes, nodes, offload_optimizer, 1.5);
            EXPECT_EQ(rows[2].device_bytes, z2.gpu) << params << " " << world;
            EXPECT_EQ(rows[2].host_bytes, z2.cpu) << params << " " << world;
            if (offload_param && !offload_optimizer) {
              EXPECT_FALSE(rows[3].applicable);  // DeepSpeed prints no such row
            } else {
              const Mem z3 = deepspeed_zero3(P, static_cast<double>(in.largest_layer_params), world / nodes, nodes,
                                             offload_optimizer, offload_param, zero_init, 1.5);
              EXPECT_EQ(rows[3].device_bytes, z3.gpu) << params << " " << world;
              EXPECT_EQ(rows[3].host_bytes, z3.cpu) << params << " " << world;
            }
            ++checked;
          }
  EXPECT_EQ(checked, 4 * 6 * 8);
}

TEST(Estimate, StagesZeroAndOneFollowTheZeRO2Accounting) {
  EstimateInputs in;
  in.params = 1'000'003;  // not a multiple of the world size: DeepSpeed truncates
  in.world_size = 4;
  std::vector<StageEstimate> rows = estimate_model_states(in);
  const uint64_t P = 1'000'003;
  // bf16: 2 (params) + 2 (grads) + 16 (fp32 grads, master, moments) per parameter.
  EXPECT_EQ(rows[0].device_bytes, 20 * P);
  EXPECT_EQ(rows[1].device_bytes, 4 * P + 16 * P / 4);
  EXPECT_EQ(rows[2].device_bytes, 2 * P + 18 * P / 4);
  EXPECT_EQ(rows[0].host_bytes, static_cast<uint64_t>(P * 4.0 * 4 * 1.5));
  // With one rank every stage holds the same 20 bytes a parameter as ZeRO-0.
  in.world_size = 1;
  rows = estimate_model_states(in);
  for (int s = 0; s < 3; ++s) EXPECT_EQ(rows[static_cast<size_t>(s)].device_bytes, 20 * P) << s;

  // Offload: ZeRO-0 cannot; ZeRO-1 keeps its 16-bit params and grads, the host takes the rest.
  in.world_size = 4;
  in.offload_optimizer = true;
  rows = estimate_model_states(in);
  EXPECT_FALSE(rows[0].applicable);
  EXPECT_EQ(rows[1].device_bytes, 4 * P);
  EXPECT_EQ(rows[1].host_bytes, rows[2].host_bytes);
}

TEST(Estimate, Fp32CountsFourBytesOfParamsAndGradsAndNoCopies) {
  EstimateInputs in;
  in.params = 10'000'000;
  in.largest_layer_params = 1'000'000;
  in.world_size = 8;
  in.dtype = EstimateInputs::Dtype::Fp32;
  const uint64_t P = 10'000'000, L = 1'000'000;
  std::vector<StageEstimate> rows = estimate_model_states(in);
  EXPECT_EQ(rows[0].device_bytes, 16 * P);  // params 4 + grads 4 + moments 8
  EXPECT_EQ(rows[1].device_bytes, 8 * P + 8 * P / 8);
  EXPECT_EQ(rows[2].device_bytes, 4 * P + 12 * P / 8);
  EXPECT_EQ(rows[3].device_bytes, 4 * L + 16 * P / 8);
  in.offload_optimizer = true;
  rows = estimate_model_states(in);
  EXPECT_EQ(rows[2].device_bytes, 4 * P);
  EXPECT_EQ(rows[3].device_bytes, 4 * L + 4 * P / 8);
  EXPECT_EQ(rows[3].host_bytes, static_cast<uint64_t>(P * 16.0 * 1.5));
  in.offload_param = true;
  rows = estimate_model_states(in);
  EXPECT_EQ(rows[3].device_bytes, 4 * L);
  EXPECT_EQ(rows[3].host_bytes, static_cast<uint64_t>(P * 20.0 * 1.5));
}

TEST(Estimate, BadInputsAreRefused) {
  EstimateInputs in;
  EXPECT_THROW(estimate_model_states(in), std::invalid_argument);  // no parameters
  in.params = 100;
  in.world_size = 6;
  in.nodes = 4;
  EXPECT_THROW(estimate_model_states(in), std::invalid_argument);  // 6 ranks on 4 nodes
  in.nodes = 2;
  in.largest_layer_params = 101;
  EXPECT_THROW(estimate_model_states(in), std::invalid_argument);
}

TEST(Estimate, TheCommandPrintsTheTable) {
  EstimateInputs in;
  in.params = 124'000'000;
  in.world_size = 8;
  in.offload_optimizer = true;
  const std::vector<StageEstimate> rows = estimate_model_states(in);
  const std::string command = std::string(TANDEM_TEST_BINARY_DIR) +
                              "/bin/tandem estimate --params 124000000 --world-size 8 --offload-optimizer --bytes";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  ASSERT_TRUE(pipe);
  std::string out;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) out += buffer;
  for (int s = 1; s <= 3; ++s) {
    const std::string device = std::to_string(rows[static_cast<size_t>(s)].device_bytes);
    const std::string host = std::to_string(rows[static_cast<size_t>(s)].host_bytes);
    const size_t line = out.find("\nZeRO-" + std::to_string(s) + " ");
    ASSERT_NE(line, std::string::npos) << out;
    const std::string row = out.substr(line + 1, out.find('\n', line + 1) - line - 1);
    EXPECT_NE(row.find(device), std::string::npos) << row;
    EXPECT_NE(row.find(host), std::string::npos) << row;
  }
  const size_t zero0 = out.find("\nZeRO-0 ");
  ASSERT_NE(zero0, std::string::npos) << out;
  EXPECT_NE(out.substr(zero0, out.find('\n', zero0 + 1) - zero0).find("n/a"), std::string::npos);  // cannot offload
}

}  // namespace
}  // namespace tandem
