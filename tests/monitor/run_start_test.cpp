// The start-up summary of `tandem train` / `tandem distill` (train/run_start.hpp) through the CLI:
// each model's parameters, tokens per step, precision, ZeRO stage, offload and checkpoint_dir, as
// numbers worked out here from the run file; nothing of it with --quiet; and a run of several models
// shows every model in its progress lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "cli_support.hpp"

namespace tandem {
namespace {

// GPT-2's parameters for n_layer 1, n_embd 16, vocab 256, block 16, the output layer tied to wte:
// wte 256x16, wpe 16x16; a block: 2 LayerNorms (2x16 each), c_attn 16x48+48, attn c_proj 16x16+16,
// c_fc 16x64+64, mlp c_proj 64x16+16; ln_f 2x16.
constexpr int64_t kTinyParameters =
    256 * 16 + 16 * 16 + (2 * 2 * 16 + 16 * 48 + 48 + 16 * 16 + 16 + 16 * 64 + 64 + 64 * 16 + 16) + 2 * 16;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(RunStart, TrainPrintsEachModelsFactsBeforeTheFirstStep) {
  test::Scratch scratch("start-train");
  const auto run = scratch.write("run.json", test::train_run(2, "ck"));
  const test::CliResult r = test::tandem_run({"train", run.string()}, scratch / "train");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.err, "tandem train: " + run.string() + ", 2 steps on cpu\n")) << r.err;
  EXPECT_TRUE(has(r.err, "  model \"model\": 7.66K parameters (" + std::to_string(kTinyParameters) +
                             "); ZeRO-0; fp32; offload_optimizer none, offload_param none\n"))
      << r.err;
  // micro_batch 2 x seq_len 16 x 1 accumulation step x 2 thread-ranks.
  EXPECT_TRUE(has(r.err, "    tokens per step: 64 = micro-batch 2 x seq 16 x grad accum 1 x 2 data-parallel ranks\n"))
      << r.err;
  EXPECT_TRUE(has(r.err, "    checkpoint_dir: " + (scratch / "ck").string() + "\n")) << r.err;
  EXPECT_TRUE(has(r.err, "  metrics: " + (scratch / "ck-metrics.jsonl").string() + "\n")) << r.err;
  // Before the first step's progress line.
  EXPECT_LT(r.err.find("tokens per step"), r.err.find("step 1/2")) << r.err;

  const test::CliResult quiet = test::tandem_run({"train", run.string(), "-q", "--overwrite"}, scratch / "quiet");
  ASSERT_EQ(quiet.rc, 0) << quiet.err;
  EXPECT_FALSE(has(quiet.err, "tokens per step")) << quiet.err;
}

TEST(RunStart, TheResolvedPrecisionStageOffloadAndAccumulationAreShown) {
  test::Scratch scratch("start-zero2");
  const std::string config = R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 3,
    "bf16": {"enabled": true}, "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": "auto"}},
    "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}}})";
  const auto run = scratch.write("run.json", test::train_run_with(config, 1, "ck"));
  const test::CliResult r = test::tandem_run({"train", run.string()}, scratch / "zero2");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.err, "parameters (" + std::to_string(kTinyParameters) +
                             "); ZeRO-2; bf16; offload_optimizer cpu, offload_param none\n"))
      << r.err;
  EXPECT_TRUE(has(r.err, "    tokens per step: 192 = micro-batch 2 x seq 16 x grad accum 3 x 2 data-parallel ranks\n"))
      << r.err;
  EXPECT_FALSE(has(r.err, "    csv_monitor")) << r.err;  // no monitors, no line
}

TEST(RunStart, ARunOfSeveralModelsShowsEveryModelInItsSummaryAndProgress) {
  test::Scratch scratch("start-models");
  const auto run = scratch.write("run.json", test::two_model_run(test::kTrainedConfig, test::kTrainedConfig, 2, "ck"));
  const test::CliResult r = test::tandem_run({"train", run.string()}, scratch / "two");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.err, "  model \"a\": 7.66K parameters")) << r.err;
  EXPECT_TRUE(has(r.err, "  model \"b\": 7.66K parameters")) << r.err;
  EXPECT_TRUE(has(r.err, "    checkpoint_dir: " + (scratch / "ck" / "a").string() + "\n")) << r.err;
  EXPECT_TRUE(has(r.err, "    checkpoint_dir: " + (scratch / "ck" / "b").string() + "\n")) << r.err;
  // stderr is a file, not a terminal: plain lines. The last step is evaluated: each model's val_loss.
  const std::vector<std::string> lines = test::text_lines(r.err);
  const auto last = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("step 2/2 ", 0) == 0; });
  ASSERT_NE(last, lines.end()) << r.err;
  const std::regex line(R"(step 2/2 a: loss \d+\.\d{4} lr \S+ val_loss \d+\.\d{4} \| b: loss \d+\.\d{4} lr \S+ val_loss \d+\.\d{4} \d+ tok/s ETA .*)");
  EXPECT_TRUE(std::regex_match(*last, line)) << *last;
}

TEST(RunStart, DistillShowsTheStudentAndTheFrozenTeacher) {
  test::Scratch scratch("start-distill");
  const auto teacher = scratch.write("teacher.json", test::teacher_run());
  ASSERT_EQ(test::tandem_run({"train", teacher.string(), "-q"}, scratch / "teacher").rc, 0);
  const auto run = scratch.write("run.json", test::distill_run(1, "ck"));
  const test::CliResult r = test::tandem_run({"distill", run.string()}, scratch / "distill");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(r.err, "tandem distill: " + run.string() + ", 1 steps on cpu\n")) << r.err;
  EXPECT_TRUE(has(r.err, "  model \"student\": 7.66K parameters (" + std::to_string(kTinyParameters) + ")")) << r.err;
  EXPECT_TRUE(has(r.err, "; frozen (forward only)\n")) << r.err;
  EXPECT_TRUE(has(r.err, "  model \"teacher\": ")) << r.err;
  // The distillation's metrics carry the loss's parts.
  const std::string metrics = test::read_text(scratch / "ck-metrics.jsonl");
  EXPECT_TRUE(has(metrics, "\"kd_loss\":")) << metrics;
  EXPECT_TRUE(has(metrics, "\"ce_loss\":")) << metrics;
}

}  // namespace
}  // namespace tandem
