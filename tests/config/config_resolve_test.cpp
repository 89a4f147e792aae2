// "auto" resolution: Accelerate's rules at prepare (the seed's two configs), tandem's rules for every
// other key, and unresolvable values reported all at once before anything runs.
#include <gtest/gtest.h>

#include <cmath>

#include "config_test_util.hpp"
#include "tandem/config.hpp"

namespace tandem {
namespace {

using test::line_col;
using test::position_of;

const AutoResolution* resolution(const ResolvedConfig& r, const std::string& path) {
  for (const AutoResolution& a : r.resolutions)
    if (a.path == path) return &a;
  ADD_FAILURE() << "no resolution for " << path;
  return nullptr;
}

bool has_auto(const json::Value& v) {
  if (v.is_auto()) return true;
  if (v.is_object())
    for (const auto& m : v.members())
      if (has_auto(m.second)) return true;
  if (v.is_array())
    for (const auto& item : v.items())
      if (has_auto(item)) return true;
  return false;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ConfigResolve, SeedTeacherResolvesEveryAuto) {
  const auto file = test::repo_path("configs/zero3_config.json");
  const std::string text = test::read_text(file);
  const DeepSpeedConfig c = load_config_file(file);
  ResolveInputs in;
  in.hidden_size = 768;
  in.world_size = 2;
  const ResolvedConfig r = resolve(c, in);
  const int64_t h = 768;

  EXPECT_FALSE(has_auto(r.tree));
  ASSERT_EQ(r.resolutions.size(), 6u);
  EXPECT_EQ(r.zero.stage, 3);
  EXPECT_TRUE(r.zero.overlap_comm);
  EXPECT_EQ(r.zero.reduce_bucket_size, h * h);
  EXPECT_EQ(r.zero.reduce_bucket_size, 589824);
  // Python's int(0.9 * 768 * 768) = int(530841.6) = 530841.
  EXPECT_EQ(r.zero.prefetch_bucket_size, 530841);
  EXPECT_EQ(r.zero.param_persistence_threshold, 10 * h);
  // Accelerate rejects "auto" here; tandem keeps DeepSpeed's default and says so.
  EXPECT_EQ(r.zero.max_live_parameters, 1000000000);
  EXPECT_EQ(r.zero.max_reuse_distance, 1000000000);
  EXPECT_FALSE(r.bf16.enabled);
  EXPECT_EQ(r.precision, MixedPrecision::No);
  // Keys the config leaves out take DeepSpeed's defaults.
  EXPECT_EQ(r.zero.sub_group_size, 1000000000);
  EXPECT_EQ(r.zero.allgather_bucket_size, 500000000);
  EXPECT_EQ(r.zero.model_persistence_threshold, INT64_MAX);
  EXPECT_TRUE(r.zero.contiguous_gradients);
  EXPECT_EQ(r.gradient_clipping, 0.0);
  // The micro batch is given (1): train = 1 * 1 * 2, gas = 1, both derived.
  EXPECT_EQ(r.batch.train_batch_size, 2);
  EXPECT_EQ(r.batch.gradient_accumulation_steps, 1);
  EXPECT_EQ(r.derived.size(), 2u);

  const AutoResolution* reduce = resolution(r, "zero_optimization.reduce_bucket_size");
  ASSERT_NE(reduce, nullptr);
  EXPECT_EQ(reduce->why, "hidden_size^2 = 768*768, as Accelerate fills reduce_bucket_size");
  EXPECT_EQ(line_col(reduce->position), line_col(position_of(text, "\"reduce_bucket_size\"")));
  EXPECT_EQ(reduce->source, file.string());
  const AutoResolution* prefetch = resolution(r, "zero_optimization.stage3_prefetch_bucket_size");
  EXPECT_EQ(prefetch->why, "int(0.9 * hidden_size^2) = int(0.9*768*768), as Accelerate fills "
                           "stage3_prefetch_bucket_size");
  const AutoResolution* live = resolution(r, "zero_optimization.stage3_max_live_parameters");
  EXPECT_EQ(live->value.as_int(), 1000000000);
  EXPECT_TRUE(contains(live->why, "DeepSpeed's default 1000000000")) << live->why;
  EXPECT_TRUE(contains(resolution(r, "bf16.enabled")->why, "mixed precision \"no\" (the default)"));
  // The resolved tree keeps each value where "auto" was written.
  const json::Value* v = r.tree.find("zero_optimization")->find("stage3_param_persistence_threshold");
  EXPECT_EQ(v->as_int(), 7680);
  EXPECT_EQ(line_col(v->position()), line_col(position_of(text, "\"stage3_param_persistence_threshold\"")));

  const std::string lines = describe_resolutions(r);
  EXPECT_TRUE(contains(lines, file.string() + ":" + line_col(position_of(text, "\"reduce_bucket_size\"")) +
                                  ": zero_optimization.reduce_bucket_size = 589824 (hidden_size^2 = 768*768"))
      << lines;
}

TEST(ConfigResolve, SeedTeacherWithoutHiddenSizeListsEveryUnresolvableKey) {
  const auto file = test::repo_path("configs/zero3_config.json");
  const std::string text = test::read_text(file);
  const ConfigError e = test::config_error_of([&] { resolve(load_config_file(file)); });
  const std::vector<std::string> keys = {"reduce_bucket_size", "stage3_prefetch_bucket_size",
                                         "stage3_param_persistence_threshold"};
  ASSERT_EQ(e.problems().size(), keys.size()) << e.what();
  for (size_t i = 0; i < keys.size(); ++i) {
    const ConfigIssue& p = e.problems()[i];
    EXPECT_EQ(p.path, "zero_optimization." + keys[i]);
    EXPECT_EQ(p.source, file.string());
    EXPECT_EQ(line_col(p.position), line_col(position_of(text, "\"" + keys[i] + "\"")));
    EXPECT_TRUE(contains(p.message, "\"auto\" cannot be resolved"));
    EXPECT_TRUE(contains(p.message, "pass --hidden-size, prepare with a model that has a hidden size")) << p.message;
  }
}

TEST(ConfigResolve, SeedStudentResolvesAsAccelerateWould) {
  const auto file = test::repo_path("configs/zero2_config.json");
  const std::string text = test::read_text(file);
  ResolveInputs in;
  in.micro_batch = 8;
  in.world_size = 2;
  in.lr = 3e-4;
  in.weight_decay = 0.01;
  in.warmup_steps = 100;
  const ResolvedConfig r = resolve(load_config_file(file), in);
  EXPECT_FALSE(has_auto(r.tree));
  EXPECT_EQ(r.resolutions.size(), 9u);
  EXPECT_EQ(r.batch.micro_batch_per_gpu, 8);
  EXPECT_EQ(r.batch.gradient_accumulation_steps, 1);
  EXPECT_EQ(r.batch.train_batch_size, 8 * 1 * 2);
  EXPECT_EQ(r.gradient_clipping, 1.0);  // Accelerate's config_kwargs
  EXPECT_EQ(r.zero.stage, 2);
  EXPECT_FALSE(r.zero.overlap_comm);
  EXPECT_EQ(r.zero.optimizer_offload_device(), OffloadDevice::Cpu);
  EXPECT_TRUE(r.zero.offload_optimizer->pin_memory);
  EXPECT_FALSE(r.bf16.enabled);

  ASSERT_TRUE(r.optimizer.has_value());
  EXPECT_EQ(r.optimizer->type, "AdamW");
  EXPECT_EQ(r.optimizer->params.find("lr")->as_double(), 3e-4);
  EXPECT_EQ(r.optimizer->params.find("weight_decay")->as_double(), 0.01);
  EXPECT_TRUE(r.optimizer->params.find("torch_adam")->as_bool());
  EXPECT_EQ(line_col(r.optimizer->params.find("lr")->position()), line_col(position_of(text, "\"lr\"")));
  EXPECT_EQ(r.optimizer->params.find("lr")->path(), "optimizer.params.lr");
  ASSERT_TRUE(r.scheduler.has_value());
  EXPECT_EQ(r.scheduler->type, "WarmupLR");
  EXPECT_EQ(r.scheduler->params.find("warmup_min_lr")->as_double(), 0.0);
  EXPECT_EQ(r.scheduler->params.find("warmup_max_lr")->as_double(), 3e-4);
  EXPECT_EQ(r.scheduler->params.find("warmup_num_steps")->as_int(), 100);

  EXPECT_EQ(resolution(r, "scheduler.params.warmup_max_lr")->why,
            "the optimizer's lr (the given lr 0.0003), as Accelerate fills warmup_max_lr");
  EXPECT_EQ(resolution(r, "train_batch_size")->why,
            "micro batch * gradient accumulation * world size = 8 * 1 * 2 (micro batch 8 from the data, "
            "gradient_accumulation_steps 1), as Accelerate fills train_batch_size");
  EXPECT_EQ(resolution(r, "train_micro_batch_size_per_gpu")->value.as_int(), 8);
  EXPECT_EQ(resolution(r, "gradient_clipping")->why, "1.0, the value Accelerate fills gradient_clipping with at prepare");
}

TEST(ConfigResolve, SeedStudentWithoutAMicroBatchFailsBeforeAnythingRuns) {
  const auto file = test::repo_path("configs/zero2_config.json");
  const std::string text = test::read_text(file);
  const ConfigError e = test::config_error_of([&] { resolve(load_config_file(file)); });
  ASSERT_EQ(e.problems().size(), 2u) << e.what();
  EXPECT_EQ(e.problems()[0].path, "train_batch_size");
  EXPECT_EQ(line_col(e.problems()[0].position), line_col(position_of(text, "\"train_batch_size\"")));
  EXPECT_EQ(e.problems()[1].path, "train_micro_batch_size_per_gpu");
  EXPECT_TRUE(contains(e.problems()[1].message, "pass --micro-batch")) << e.problems()[1].message;
  // Without --lr the optimizer's lr is DummyOptim's default, not an error (as in Accelerate).
  ResolveInputs in;
  in.micro_batch = 2;
  const ResolvedConfig r = resolve(load_config_file(file), in);
  EXPECT_EQ(r.optimizer->params.find("lr")->as_double(), 0.001);
  EXPECT_EQ(r.optimizer->params.find("weight_decay")->as_double(), 0.0);
  EXPECT_EQ(r.scheduler->params.find("warmup_max_lr")->as_double(), 0.001);
  EXPECT_EQ(r.scheduler->params.find("warmup_num_steps")->as_int(), 0);
  EXPECT_TRUE(contains(resolution(r, "optimizer.params.lr")->why, "DummyOptim default lr"));
}

TEST(ConfigResolve, EveryUnresolvableAutoIsListedInOneError) {
  const std::string text =
      "{\n"
      "  \"train_micro_batch_size_per_gpu\": \"auto\",\n"
      "  \"zero_optimization\": {\"stage\": 3, \"reduce_bucket_size\": \"auto\", \"stage3_max_live_parameters\": \"auto\"},\n"
      "  \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": \"auto\", \"foo\": \"auto\"}},\n"
      "  \"scheduler\": {\"type\": \"WarmupDecayLR\", \"params\": {\"total_num_steps\": \"auto\"}},\n"
      "  \"tensorboard\": {\"enabled\": \"auto\"}\n"
      "}";
  const ConfigError e = test::config_error_of([&] { resolve(load_config_text(text, "u.json")); });
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"train_micro_batch_size_per_gpu", "--micro-batch"},
      {"zero_optimization.reduce_bucket_size", "--hidden-size"},
      {"optimizer.params.foo", "no rule for \"auto\" in foo of optimizer \"AdamW\""},
      {"scheduler.params.total_num_steps", "--total-steps"},
      {"tensorboard.enabled", "tandem does not model \"tensorboard\""},
  };
  ASSERT_EQ(e.problems().size(), expected.size()) << e.what();
  for (size_t i = 0; i < expected.size(); ++i) {
    const ConfigIssue& p = e.problems()[i];
    EXPECT_EQ(p.path, expected[i].first);
    const std::string key = expected[i].first.substr(expected[i].first.rfind('.') + 1);
    EXPECT_EQ(line_col(p.position), line_col(position_of(text, "\"" + key + "\"")));
    EXPECT_TRUE(contains(p.message, expected[i].second)) << p.message;
    EXPECT_EQ(p.to_string(), "u.json:" + line_col(p.position) + ": " + p.path + ": " + p.message);
  }
}

TEST(ConfigResolve, MixedPrecisionFillsEnabledAndAddsMissingBlocks) {
  const std::string text = "{\"train_batch_size\": 4, \"bf16\": {\"enabled\": \"auto\"}}";
  ResolveInputs bf16;
  bf16.mixed_precision = MixedPrecision::Bf16;
  const ResolvedConfig on = resolve(load_config_text(text), bf16);
  EXPECT_TRUE(on.bf16.enabled);
  EXPECT_EQ(on.precision, MixedPrecision::Bf16);
  EXPECT_EQ(on.loss_scaling.static_scale, 1.0);
  EXPECT_FALSE(on.loss_scaling.dynamic);

  // fp16 asked for with no fp16 block: Accelerate adds {"enabled": true, "auto_cast": true}.
  ResolveInputs fp16;
  fp16.mixed_precision = MixedPrecision::Fp16;
  const ResolvedConfig added = resolve(load_config_text("{\"train_batch_size\": 4}"), fp16);
  EXPECT_TRUE(added.fp16.enabled);
  EXPECT_TRUE(added.fp16.auto_cast);
  EXPECT_EQ(json::to_string(*added.tree.find("fp16")), "{\"enabled\":true,\"auto_cast\":true}");
  ASSERT_EQ(added.derived.size(), 3u);  // the block, and the batch's micro and gas
  EXPECT_EQ(added.derived[0].path, "fp16");
  // DeepSpeed's dynamic loss scaler with the fp16 defaults: 2^16, window 1000, hysteresis 2, min 1.
  EXPECT_TRUE(added.loss_scaling.dynamic);
  EXPECT_EQ(added.loss_scaling.initial_scale, 65536.0);
  EXPECT_EQ(added.loss_scaling.window, 1000);
  EXPECT_EQ(added.loss_scaling.hysteresis, 2);
  EXPECT_EQ(added.loss_scaling.min_scale, 1.0);

  // The config's explicit false wins, with a warning.
  const ResolvedConfig kept = resolve(load_config_text("{\"train_batch_size\": 4, \"fp16\": {\"enabled\": false}}"), fp16);
  EXPECT_FALSE(kept.fp16.enabled);
  ASSERT_EQ(kept.warnings.size(), 1u);
  EXPECT_EQ(kept.warnings[0].path, "fp16.enabled");

  const ResolvedConfig static_scale = resolve(
      load_config_text("{\"train_batch_size\": 4, \"fp16\": {\"enabled\": true, \"loss_scale\": 128, "
                       "\"initial_scale_power\": 8}}"));
  EXPECT_FALSE(static_scale.loss_scaling.dynamic);
  EXPECT_EQ(static_scale.loss_scaling.static_scale, 128.0);
  EXPECT_EQ(static_scale.loss_scaling.initial_scale, 256.0);
}

TEST(ConfigResolve, BatchKeysFromInputs) {
  const std::string text = "{\"train_batch_size\": \"auto\", \"train_micro_batch_size_per_gpu\": 4, "
                           "\"gradient_accumulation_steps\": \"auto\"}";
  ResolveInputs in;
  in.grad_accum = 3;
  in.world_size = 5;
  const ResolvedConfig r = resolve(load_config_text(text), in);
  EXPECT_EQ(r.batch.gradient_accumulation_steps, 3);
  EXPECT_EQ(r.batch.train_batch_size, 4 * 3 * 5);
  EXPECT_EQ(resolution(r, "gradient_accumulation_steps")->why,
            "the run's gradient accumulation 3, as Accelerate fills gradient_accumulation_steps");
  const ResolvedConfig defaults = resolve(load_config_text(text));
  EXPECT_EQ(defaults.batch.gradient_accumulation_steps, 1);
  EXPECT_EQ(defaults.batch.train_batch_size, 4);
  // train "auto" with no micro key at all: nothing to multiply.
  const ConfigError e = test::config_error_of([] { resolve(load_config_text("{\"train_batch_size\": \"auto\"}")); });
  EXPECT_TRUE(contains(e.reason(), "the config has no train_micro_batch_size_per_gpu")) << e.reason();
  const ConfigError null_micro = test::config_error_of([] {
    resolve(load_config_text("{\"train_batch_size\": \"auto\", \"train_micro_batch_size_per_gpu\": null}"));
  });
  EXPECT_EQ(null_micro.path(), "train_batch_size");
}

TEST(ConfigResolve, ZeroKeysBeyondAccelerate) {
  const std::string text =
      "{\"train_batch_size\": 4, \"gradient_clipping\": \"auto\", \"zero_optimization\": {\"stage\": \"auto\", "
      "\"overlap_comm\": \"auto\", \"allgather_bucket_size\": \"auto\", \"sub_group_size\": \"auto\", "
      "\"stage3_gather_16bit_weights_on_model_save\": \"auto\", "
      "\"offload_optimizer\": {\"device\": \"auto\", \"nvme_path\": \"auto\", \"buffer_count\": \"auto\"}}}";
  const DeepSpeedConfig c = load_config_text(text);
  EXPECT_EQ(c.zero_stage(), std::nullopt);
  const ResolvedConfig plain = resolve(c);
  EXPECT_EQ(plain.zero.stage, 2);  // Accelerate's default zero_stage
  EXPECT_FALSE(plain.zero.overlap_comm);
  EXPECT_EQ(plain.zero.allgather_bucket_size, 500000000);  // no hidden size: DeepSpeed's default
  EXPECT_EQ(plain.zero.sub_group_size, 1000000000);
  EXPECT_TRUE(contains(resolution(plain, "zero_optimization.sub_group_size")->why, "DeepSpeed's default 1000000000"));
  EXPECT_FALSE(plain.zero.gather_16bit_weights_on_model_save);
  EXPECT_EQ(plain.zero.optimizer_offload_device(), OffloadDevice::None);
  EXPECT_EQ(plain.zero.offload_optimizer->nvme_path, std::nullopt);
  EXPECT_EQ(plain.zero.offload_optimizer->buffer_count, 4);
  EXPECT_EQ(plain.gradient_clipping, 1.0);

  ResolveInputs in;
  in.zero_stage = 3;
  in.hidden_size = 769;  // odd: 769^2 = 591361, rounded up to a multiple of 2
  in.gradient_clipping = 0.5;
  in.zero3_save_16bit_model = true;
  in.offload_optimizer_device = "nvme";
  in.offload_optimizer_nvme_path = "/nvme";
  const ResolvedConfig r = resolve(c, in);
  EXPECT_EQ(r.zero.stage, 3);
  EXPECT_TRUE(r.zero.overlap_comm);
  EXPECT_EQ(r.zero.allgather_bucket_size, 769 * 769 + 1);
  EXPECT_TRUE(contains(resolution(r, "zero_optimization.allgather_bucket_size")->why, "rounded up to a multiple of 2"));
  EXPECT_TRUE(r.zero.gather_16bit_weights_on_model_save);
  EXPECT_EQ(r.zero.optimizer_offload_device(), OffloadDevice::Nvme);
  EXPECT_EQ(r.zero.offload_optimizer->nvme_path, "/nvme");
  EXPECT_EQ(r.gradient_clipping, 0.5);
}

TEST(ConfigResolve, OptimizerParamDefaultsByFamily) {
  auto resolved_params = [](const std::string& type) {
    ResolveInputs in;
    in.lr = 0.01;
    return resolve(load_config_text("{\"train_batch_size\": 4, \"optimizer\": {\"type\": \"" + type +
                                    "\", \"params\": {\"lr\": \"auto\", \"betas\": \"auto\", \"eps\": \"auto\"}}}"),
                   in)
        .optimizer->params;
  };
  const json::Value adam = resolved_params("AdamW");
  EXPECT_EQ(json::to_string(*adam.find("betas")), "[0.9,0.999]");
  EXPECT_EQ(adam.find("eps")->as_double(), 1e-8);
  EXPECT_EQ(adam.find("lr")->as_double(), 0.01);
  EXPECT_EQ(adam.find("betas")->items()[1].path(), "optimizer.params.betas[1]");
  const ConfigError lion = test::config_error_of([&] { resolved_params("Lion"); });
  ASSERT_EQ(lion.problems().size(), 1u);  // Lion has betas (0.9, 0.99) but no eps
  EXPECT_EQ(lion.path(), "optimizer.params.eps");
  const ConfigError unknown = test::config_error_of([&] { resolved_params("Shampoo"); });
  EXPECT_EQ(unknown.problems().size(), 2u);  // betas and eps: no rule for an unknown optimizer
}

ResolvedConfig resolve_scheduler(const std::string& type, const std::string& params, const ResolveInputs& in) {
  return resolve(load_config_text("{\"train_batch_size\": 4, \"optimizer\": {\"type\": \"AdamW\", \"params\": "
                                  "{\"lr\": 0.002}}, \"scheduler\": {\"type\": \"" + type + "\", \"params\": " +
                                  params + "}}"),
                 in);
}

TEST(ConfigResolve, SchedulerRules) {
  ResolveInputs in;
  in.total_steps = 1000;
  in.warmup_steps = 50;
  const ResolvedConfig decay = resolve_scheduler(
      "WarmupDecayLR",
      "{\"warmup_min_lr\": \"auto\", \"warmup_max_lr\": \"auto\", \"warmup_num_steps\": \"auto\", "
      "\"total_num_steps\": \"auto\", \"warmup_type\": \"auto\"}",
      in);
  const json::Value& p = decay.scheduler->params;
  EXPECT_EQ(p.find("warmup_min_lr")->as_double(), 0.0);
  EXPECT_EQ(p.find("warmup_max_lr")->as_double(), 0.002);  // the config's optimizer lr
  EXPECT_EQ(p.find("warmup_num_steps")->as_int(), 50);
  EXPECT_EQ(p.find("total_num_steps")->as_int(), 1000);
  EXPECT_EQ(p.find("warmup_type")->as_string(), "log");
  EXPECT_EQ(resolution(decay, "scheduler.params.warmup_max_lr")->why,
            "the optimizer's lr (optimizer.params.lr = 0.002), as Accelerate fills warmup_max_lr");

  const ResolvedConfig cosine = resolve_scheduler(
      "WarmupCosineLR", "{\"total_num_steps\": \"auto\", \"warmup_min_ratio\": \"auto\", \"cos_min_ratio\": \"auto\"}", in);
  EXPECT_EQ(cosine.scheduler->params.find("total_num_steps")->as_int(), 1000);
  EXPECT_EQ(cosine.scheduler->params.find("warmup_min_ratio")->as_double(), 0.0);
  EXPECT_EQ(cosine.scheduler->params.find("cos_min_ratio")->as_double(), 0.0001);

  const ResolvedConfig cycle = resolve_scheduler(
      "OneCycle", "{\"cycle_min_lr\": \"auto\", \"cycle_max_lr\": \"auto\", \"cycle_first_step_size\": \"auto\", "
      "\"cycle_momentum\": \"auto\", \"cycle_second_step_size\": \"auto\"}", in);
  EXPECT_EQ(cycle.scheduler->params.find("cycle_max_lr")->as_double(), 0.002);
  EXPECT_DOUBLE_EQ(cycle.scheduler->params.find("cycle_min_lr")->as_double(), 0.002 / 25);
  EXPECT_EQ(cycle.scheduler->params.find("cycle_first_step_size")->as_int(), 50);
  EXPECT_TRUE(cycle.scheduler->params.find("cycle_momentum")->as_bool());
  EXPECT_TRUE(cycle.scheduler->params.find("cycle_second_step_size")->is_null());

  const ResolvedConfig range = resolve_scheduler(
      "lr_range_test", "{\"lr_range_test_min_lr\": \"auto\", \"lr_range_test_step_size\": \"auto\"}", {});
  EXPECT_EQ(range.scheduler->params.find("lr_range_test_min_lr")->as_double(), 0.002);
  EXPECT_EQ(range.scheduler->params.find("lr_range_test_step_size")->as_int(), 2000);

  const ConfigError no_total = test::config_error_of(
      [] { resolve_scheduler("WarmupDecayLR", "{\"total_num_steps\": \"auto\"}", {}); });
  EXPECT_TRUE(contains(no_total.reason(), "pass --total-steps")) << no_total.reason();
}

TEST(ConfigResolve, InputsOutOfRangeAreRefused) {
  const DeepSpeedConfig c = load_config_text("{\"train_batch_size\": 4}");
  ResolveInputs in;
  in.world_size = 0;
  EXPECT_THROW(resolve(c, in), std::invalid_argument);
  in = {};
  in.hidden_size = 0;
  EXPECT_THROW(resolve(c, in), std::invalid_argument);
  in = {};
  in.offload_param_device = "gpu";
  EXPECT_THROW(resolve(c, in), std::invalid_argument);
}

TEST(ConfigResolve, MixedPrecisionNames) {
  EXPECT_EQ(parse_mixed_precision("BF16"), MixedPrecision::Bf16);
  EXPECT_EQ(parse_mixed_precision("no"), MixedPrecision::No);
  EXPECT_EQ(parse_mixed_precision("fp8"), std::nullopt);
  EXPECT_EQ(mixed_precision_name(MixedPrecision::Fp16), "fp16");
  EXPECT_EQ(offload_device_name(OffloadDevice::Nvme), "nvme");
}

}  // namespace
}  // namespace tandem
