// A small Llama student (1 layer, 32 wide, 4 heads on 1 kv head, tied head) distilled from a larger
// Llama teacher (2 layers, 64 wide, GQA 4/2, untied) on 2 CPU thread-ranks, under the seed's stages
// where this build has them (student ZeRO-2, its optimizer offloaded; teacher ZeRO-3): the loss
// falls, and a run stopped and resumed repeats the uninterrupted one bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "distill_support.hpp"
#include "tandem/distill.hpp"
#include "tandem/train_models.hpp"

namespace tandem {
namespace {

constexpr const char* kTeacher = R"({"type": "llama", "params": {"hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256,
    "max_position_embeddings": 16}})";
constexpr const char* kStudent = R"({"type": "llama", "params": {"hidden_size": 32, "intermediate_size": 64,
    "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 256,
    "max_position_embeddings": 16, "tie_word_embeddings": true}})";
constexpr const char* kLoop = R"("data": {"path": "corpus.txt", "val_fraction": 0.1}, "ranks": 2,
    "seq_len": 16, "micro_batch": 2, "lr": 0.01, "weight_decay": 0.0, "warmup_steps": 2, "seed": 5,
    "eval_batches": 3, "data_cache": "cache")";

std::string config(int stage, bool trained) {
  if (!trained) return R"({"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": )" + std::to_string(stage) + "}}";
  return R"({"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 1,
    "optimizer": {"type": "AdamW", "params": {"lr": 0.01, "weight_decay": 0.0}},
    "zero_optimization": {"stage": )" +
         std::to_string(stage) + (stage > 0 ? R"(, "offload_optimizer": {"device": "cpu"}}})" : "}}");
}

TEST(LlamaDistill, TheLossFallsAndAResumedRunRepeatsTheWholeOneBitForBit) {
  const int student_stage = test::has_stage(2) ? 2 : 0, teacher_stage = test::has_stage(3) ? 3 : 0;
  const std::filesystem::path dir = test::temp_dir("llama");
  {
    const char* words[] = {"the", "and", "of", "to", "in", "that", "he", "shall", "unto", "for", "his", "lord"};
    std::mt19937_64 gen(3);
    std::ofstream corpus(dir / "corpus.txt");
    for (int i = 0; i < 6000; ++i) corpus << words[(gen() % 12) * (gen() % 12) / 12] << (i % 13 == 12 ? ".\n" : " ");
  }
  std::ofstream(dir / "teacher.json") << R"({"model": )" << kTeacher << R"(, "deepspeed": )" << config(0, true)
                                      << R"(, "steps": 6, "checkpoint_dir": "teacher", )" << kLoop << "}";
  std::ofstream(dir / "distill.json") << R"({"student": {"model": )" << kStudent << R"(, "deepspeed": )"
                                      << config(student_stage, true) << R"(}, "teacher": {"model": )" << kTeacher
                                      << R"(, "deepspeed": )" << config(teacher_stage, false)
                                      << R"(, "checkpoint": "teacher"}, "alpha": 1.0, "temperature": 1.0,
        "steps": 6, "checkpoint_dir": "student", "metrics": "student/metrics.jsonl", )"
                                      << kLoop << "}";
  TrainOptions quiet_train;
  quiet_train.progress = false;
  train(load_run_file(dir / "teacher.json"), quiet_train);
  DistillOptions quiet;
  quiet.progress = false;
  const DistillSummary whole = distill(load_distill_run_file(dir / "distill.json"), quiet);
  ASSERT_TRUE(whole.student.val_loss && whole.student.final_loss);
  EXPECT_LT(*whole.student.val_loss, std::log(256.0) - 1.0);  // well below a uniform guess (5.55)
  EXPECT_GT(whole.kd_loss, 0.0);
  const auto whole_model = test::file_bytes(dir / "student" / "step-00000006" / "model.safetensors");
  std::filesystem::remove_all(dir / "student");

  DistillOptions first = quiet;
  first.stop_after = 3;
  distill(load_distill_run_file(dir / "distill.json"), first);
  DistillOptions rest = quiet;
  rest.resume = true;
  const DistillSummary resumed = distill(load_distill_run_file(dir / "distill.json"), rest);
  EXPECT_EQ(resumed.student.val_loss, whole.student.val_loss);
  EXPECT_EQ(test::file_bytes(dir / "student" / "step-00000006" / "model.safetensors"), whole_model);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem
