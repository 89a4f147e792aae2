// What Accelerate's DeepSpeedPlugin and prepare() do to a config, beyond "auto" resolution
// (runtime/plugin_rules.hpp; Accelerate's utils/dataclasses.py and accelerator.py
// _prepare_deepspeed): the plugin's config filled in place after prepare, the gradient accumulation
// rules, a config without zero_optimization, and an optimizer and scheduler given in code.
#include <gtest/gtest.h>

#include "distill_support.hpp"

namespace tandem {
namespace {

using test::batches;
using test::bitwise_equal;

class AcceleratePrepare : public ::testing::Test {
 protected:
  void SetUp() override { State::reset(); }
  void TearDown() override { State::reset(); }
};

const int kStage = test::has_stage(2) ? 2 : 0;

PrepareInputs with_model(int64_t micro = 2) {
  PrepareInputs in;
  in.model = test::student_model();
  in.micro_batch = micro;
  return in;
}

// Three optimizer steps on the same batches; the losses and the weights after.
struct Trained {
  std::vector<double> losses;
  test::Weights weights;
};
Trained train(Prepared& p) {
  Trained out;
  for (uint64_t step = 0; step < 3; ++step) {
    const std::vector<TokenBatch> b = batches(2, 500 + step);
    p.engine()->forward(b, true);
    p.engine()->backward(LossSpec{&b});
    out.losses.push_back(p.engine()->step().loss);
  }
  out.weights = p.engine()->parameters();
  return out;
}

const char* kAutoConfig = R"({
  "train_micro_batch_size_per_gpu": "auto", "train_batch_size": "auto", "gradient_accumulation_steps": "auto",
  "gradient_clipping": "auto",
  "optimizer": {"type": "AdamW", "params": {"lr": 0.01, "weight_decay": "auto"}},
  "zero_optimization": {"stage": 2, "reduce_bucket_size": "auto"}})";

TEST_F(AcceleratePrepare, AfterPrepareThePluginsConfigHoldsTheFilledValuesAndThePreparedItsOwnCopy) {
  Accelerator accelerator({{"student", DeepSpeedPlugin(load_config_text(kAutoConfig, "auto.json"))},
                           {"teacher", DeepSpeedPlugin(test::frozen_config(test::has_stage(3) ? 3 : 0))}},
                          {.gradient_accumulation_steps = 1, .world_size = 2});
  Prepared student = accelerator.prepare(with_model(3));
  const DeepSpeedConfig filled = accelerator.state().plugin("student").config();
  EXPECT_TRUE(filled.autos().empty()) << filled.autos().size() << " autos left";
  EXPECT_EQ(filled.find("train_micro_batch_size_per_gpu")->as_int(), 3);
  EXPECT_EQ(filled.find("train_batch_size")->as_int(), 3 * 1 * 2);
  EXPECT_EQ(filled.find("gradient_accumulation_steps")->as_int(), 1);
  EXPECT_EQ(filled.find("gradient_clipping")->as_double(), 1.0);                // Accelerate's config_kwargs
  EXPECT_EQ(filled.find("optimizer.params.weight_decay")->as_double(), 0.0);    // DummyOptim's default
  EXPECT_EQ(filled.find("zero_optimization.reduce_bucket_size")->as_int(), 8 * 8);  // the model's hidden size
  EXPECT_EQ(filled.find("zero_optimization.reduce_bucket_size")->position().line, 5u);  // where the "auto" was
  EXPECT_EQ(filled.source(), "auto.json");

  // The seed's idiom: a script copies the student's micro batch into the teacher's plugin.
  const DeepSpeedConfig teacher = accelerator.state().plugin("teacher").config();
  accelerator.state().set_plugin_config(
      "teacher", teacher.with("train_micro_batch_size_per_gpu", *filled.find("train_micro_batch_size_per_gpu")));
  accelerator.select("teacher");
  PrepareInputs teacher_inputs;
  teacher_inputs.model = test::teacher_model();
  EXPECT_EQ(accelerator.prepare(teacher_inputs).config().batch.micro_batch_per_gpu, 3);

  // Editing the plugin afterwards leaves what was prepared as it was bound.
  accelerator.state().set_plugin_config("student", filled.with("train_micro_batch_size_per_gpu", json::Value::integer(9)));
  EXPECT_EQ(student.config().batch.micro_batch_per_gpu, 3);
  EXPECT_EQ(student.engine()->config().batch.micro_batch_per_gpu, 3);
}

TEST_F(AcceleratePrepare, WithoutAModelOnlyTheGradientAccumulationIsFilledIn) {
  Accelerator accelerator({{"only", DeepSpeedPlugin(load_config_text(kAutoConfig))}},
                          {.gradient_accumulation_steps = 4, .world_size = 2});
  PrepareInputs in;
  in.micro_batch = 2;
  in.hidden_size = 16;
  accelerator.prepare(in);
  const DeepSpeedConfig after = accelerator.state().plugin("only").config();
  EXPECT_EQ(after.find("gradient_accumulation_steps")->as_int(), 4);  // fill_match before the model branch
  EXPECT_TRUE(after.find("train_micro_batch_size_per_gpu")->is_auto());  // filled only with an engine
  EXPECT_TRUE(after.find("zero_optimization.reduce_bucket_size")->is_auto());
}

TEST_F(AcceleratePrepare, AFailedPrepareLeavesThePluginAsItWas) {
  Accelerator accelerator({{"only", DeepSpeedPlugin(load_config_text(kAutoConfig))}}, {.world_size = 2});
  PrepareInputs in = with_model();
  in.model->type = "no_such_model";
  EXPECT_THROW(accelerator.prepare(in), ModuleError);
  EXPECT_EQ(accelerator.state().plugin("only").config().autos().size(), 6u);
}

TEST_F(AcceleratePrepare, AConfigsGradientAccumulationWinsOverTheAcceleratorsWithAWarning) {
  const auto prepare_with = [](const std::string& gas_json, std::optional<int64_t> accelerator_gas) {
    State::reset();
    const std::string text = R"({"train_micro_batch_size_per_gpu": 2, )" + gas_json +
                             R"("optimizer": {"type": "AdamW", "params": {"lr": 0.01}}, "zero_optimization": {"stage": 0}})";
    Accelerator accelerator({{"only", DeepSpeedPlugin(load_config_text(text, "gas.json"))}},
                            {.gradient_accumulation_steps = accelerator_gas, .world_size = 2});
    return accelerator.prepare(with_model()).config();
  };
  const auto mismatch_warning = [](const ResolvedConfig& c) -> std::string {
    for (const ConfigIssue& w : c.warnings)
      if (w.path == "gradient_accumulation_steps") return w.to_string();
    return "";
  };

  ResolvedConfig c = prepare_with(R"("gradient_accumulation_steps": 2, )", 4);
  EXPECT_EQ(c.batch.gradient_accumulation_steps, 2);
  EXPECT_NE(mismatch_warning(c).find("given gradient_accumulation_steps 4 and the config has 2: using the config's 2"),
            std::string::npos) << mismatch_warning(c);
  EXPECT_NE(mismatch_warning(c).find("gas.json:1:"), std::string::npos) << mismatch_warning(c);

  // Absent from the config, Accelerate's plugin makes it 1, and the same warning follows.
  c = prepare_with("", 4);
  EXPECT_EQ(c.batch.gradient_accumulation_steps, 1);
  EXPECT_NE(mismatch_warning(c).find("has none, so the plugin's default 1"), std::string::npos) << mismatch_warning(c);

  // "auto" takes the Accelerator's value; agreeing values, or no value given, warn about nothing.
  c = prepare_with(R"("gradient_accumulation_steps": "auto", )", 4);
  EXPECT_EQ(c.batch.gradient_accumulation_steps, 4);
  EXPECT_EQ(mismatch_warning(c), "");
  EXPECT_EQ(mismatch_warning(prepare_with(R"("gradient_accumulation_steps": 2, )", 2)), "");
  EXPECT_EQ(mismatch_warning(prepare_with(R"("gradient_accumulation_steps": 2, )", std::nullopt)), "");
}

TEST_F(AcceleratePrepare, AMissingGradientAccumulationIsOneUnderAPluginAsAccelerateSetsIt) {
  // DeepSpeed alone would derive gas = 8 / 2 / 2 = 2; Accelerate's plugin writes 1 first, so the triple fails.
  const DeepSpeedConfig config = load_config_text(
      R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 0}})", "t.json");
  EXPECT_EQ(resolve(config, {.world_size = 2}).batch.gradient_accumulation_steps, 2);
  const DeepSpeedPlugin plugin(config);
  EXPECT_EQ(plugin.config().find("gradient_accumulation_steps")->as_int(), 1);
  try {
    resolve(plugin.config(), {.world_size = 2});
    FAIL() << "8 = 2 * 1 * 2 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train_batch_size"), std::string::npos) << e.what();
  }
}

TEST_F(AcceleratePrepare, AConfigWithoutZeroOptimizationIsRefusedByAPluginAsAccelerateRefusesIt) {
  const DeepSpeedConfig bare = load_config_text(R"({"train_micro_batch_size_per_gpu": 2})", "bare.json");
  EXPECT_EQ(bare.zero_stage(), 0);  // DeepSpeed alone reads it as stage 0
  try {
    DeepSpeedPlugin plugin(bare);
    FAIL() << "a plugin took a config without zero_optimization";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bare.json"), std::string::npos) << what;
    EXPECT_NE(what.find("Please specify the ZeRO optimization config"), std::string::npos) << what;
    EXPECT_NE(what.find("\"zero_optimization\": {\"stage\": 0}"), std::string::npos) << what;
  }
  DeepSpeedPlugin plugin(test::frozen_config(0));
  EXPECT_THROW(plugin.set_config(bare), ConfigError);
  EXPECT_EQ(plugin.config().source(), "<frozen-stage0>");  // the plugin kept its config
}

const char* kNoOptimizer = R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 1,
  "gradient_clipping": 1.0, "zero_optimization": {"stage": STAGE OFFLOAD}})";

DeepSpeedConfig config_without_optimizer(int stage, bool offload) {
  std::string text = kNoOptimizer;
  text.replace(text.find("STAGE"), 5, std::to_string(stage));
  text.replace(text.find(" OFFLOAD"), 8, offload ? R"(, "offload_optimizer": {"device": "cpu"})" : "");
  return load_config_text(text, "<no-optimizer>");
}

Trained train_alone(const DeepSpeedConfig& config, const PrepareInputs& in, std::string* module = nullptr) {
  State::reset();
  Accelerator accelerator({{"only", DeepSpeedPlugin(config)}}, {.world_size = 2});
  Prepared p = accelerator.prepare(in);
  if (module != nullptr) *module = p.engine()->optimizer_module();
  return train(p);
}

TEST_F(AcceleratePrepare, AnOptimizerGivenInCodeTrainsAsTheSameOptimizerInTheConfig) {
  for (bool offload : {false, true}) {
    SCOPED_TRACE(offload ? "offload_optimizer cpu" : "on the device");
    PrepareInputs in = with_model();
    in.optimizer = ClientModuleSpec{"AdamW", json::parse(R"({"lr": 0.01, "weight_decay": 0.1})").root};
    std::string client_module, config_module;
    const Trained client = train_alone(config_without_optimizer(kStage, offload), in, &client_module);

    const DeepSpeedConfig with_block =
        config_without_optimizer(kStage, offload)
            .with("optimizer", json::parse(R"({"type": "AdamW", "params": {"lr": 0.01, "weight_decay": 0.1}})").root);
    const Trained from_config = train_alone(with_block, with_model(), &config_module);
    EXPECT_EQ(client.losses, from_config.losses);
    EXPECT_TRUE(bitwise_equal(client.weights, from_config.weights));
    // Under ZeRO-Offload AdamW runs on cpu_adamw, as Accelerate maps torch's AdamW to DeepSpeedCPUAdam.
    EXPECT_EQ(client_module, offload && kStage > 0 ? "cpu_adamw" : "adamw");
    EXPECT_EQ(client_module, config_module);
  }
}

TEST_F(AcceleratePrepare, AnAdamGivenInCodeIsTorchsAdamWithTheDecayInTheGradient) {
  // torch.optim.Adam couples weight decay into the gradient (DeepSpeedCPUAdam(adamw_mode=False)); the
  // config's "Adam" is DeepSpeed's, decoupled by default.
  const char* params = R"({"lr": 0.01, "weight_decay": 0.5})";
  PrepareInputs in = with_model();
  in.optimizer = ClientModuleSpec{"Adam", json::parse(params).root};
  const Trained client = train_alone(config_without_optimizer(kStage, true), in);

  const auto config_adam = [&](const char* extra) {
    const std::string block = std::string(R"({"type": "Adam", "params": {"lr": 0.01, "weight_decay": 0.5)") + extra + "}}";
    return train_alone(config_without_optimizer(kStage, true).with("optimizer", json::parse(block).root), with_model());
  };
  const Trained l2 = config_adam(R"(, "adam_w_mode": false)"), decoupled = config_adam("");
  EXPECT_TRUE(bitwise_equal(client.weights, l2.weights));
  EXPECT_FALSE(bitwise_equal(client.weights, decoupled.weights));
  // adam_w_mode given in code is kept.
  in.optimizer->params.set("adam_w_mode", json::Value::boolean(true));
  EXPECT_TRUE(bitwise_equal(train_alone(config_without_optimizer(kStage, true), in).weights, decoupled.weights));
}

TEST_F(AcceleratePrepare, AnOptimizerOrSchedulerInBothTheConfigAndTheCodeIsRefused) {
  Accelerator accelerator({{"only", DeepSpeedPlugin(test::trained_config(kStage))}}, {.world_size = 2});
  PrepareInputs in = with_model();
  in.optimizer = ClientModuleSpec{"AdamW"};
  try {
    accelerator.prepare(in);
    FAIL() << "two optimizers were accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("<trained-stage"), std::string::npos) << what;
    EXPECT_NE(what.find("in the config file and in the code at the same time"), std::string::npos) << what;
  }
  in.optimizer.reset();
  in.scheduler = ClientModuleSpec{"WarmupLR"};
  EXPECT_THROW(accelerator.prepare(in), ConfigError);
  // Neither changed the plugin.
  EXPECT_EQ(accelerator.state().plugin("only").config().autos().size(), 1u);
}

TEST_F(AcceleratePrepare, ASchedulerGivenInCodeStepsAsTheSameSchedulerInTheConfig) {
  const char* schedule = R"({"warmup_min_lr": 0.001, "warmup_max_lr": 0.01, "warmup_num_steps": 3, "warmup_type": "linear"})";
  PrepareInputs in = with_model();
  in.optimizer = ClientModuleSpec{"AdamW", json::parse(R"({"lr": 0.01, "weight_decay": 0.1})").root};
  in.scheduler = ClientModuleSpec{"WarmupLR", json::parse(schedule).root};
  const Trained client = train_alone(config_without_optimizer(kStage, false), in);
  // test::trained_config is the same AdamW and WarmupLR, written in the config.
  const Trained from_config = train_alone(test::trained_config(kStage), with_model());
  EXPECT_EQ(client.losses, from_config.losses);
  EXPECT_TRUE(bitwise_equal(client.weights, from_config.weights));
}

TEST_F(AcceleratePrepare, AnOptimizerGivenInCodeMayBeOneDeepSpeedHasNotTestedUnderZero) {
  if (kStage == 0) GTEST_SKIP() << "no ZeRO-2 module in this build";
  // Accelerate sets zero_allow_untested_optimizer for a torch optimizer; the config's Lamb needs the flag.
  PrepareInputs in = with_model();
  in.optimizer = ClientModuleSpec{"Lamb", json::parse(R"({"lr": 0.01})").root};
  std::string module;
  const Trained lamb = train_alone(config_without_optimizer(kStage, false), in, &module);
  EXPECT_EQ(module, "lamb");
  EXPECT_EQ(lamb.losses.size(), 3u);
  State::reset();
  Accelerator accelerator(
      {{"only", DeepSpeedPlugin(config_without_optimizer(kStage, false)
                                    .with("optimizer", json::parse(R"({"type": "Lamb", "params": {"lr": 0.01}})").root))}},
      {.world_size = 2});
  EXPECT_THROW(accelerator.prepare(with_model()), ConfigError);
}

}  // namespace
}  // namespace tandem
