// `tandem distill RUN.json` and multi-model `tandem train RUN.json` end to end on a small text
// corpus: the teacher comes from a `tandem train` checkpoint (its validation loss is reproduced
// exactly), the baseline is `tandem train` of the same student, resume is exact, multi-model runs
// equal each model trained alone, and bad run files are refused at their line:column.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "distill_support.hpp"
#include "tandem/distill.hpp"
#include "tandem/train_models.hpp"

namespace tandem {
namespace {

constexpr const char* kTeacherModel =
    R"({"type": "gpt", "params": {"n_layer": 2, "n_head": 2, "n_embd": 32, "vocab_size": 256, "block_size": 16}})";
constexpr const char* kStudentModel =
    R"({"type": "gpt", "params": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 256, "block_size": 16}})";
// A training config (AdamW, WarmupLR) under `stage`, offloading the optimizer to the host from
// ZeRO-1 on (as the seed's zero2_config.json), and an inference config (no optimizer).
std::string trained_config(int stage = 0) {
  return R"({"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": 1.0,
        "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": "auto"}},
        "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 0, "warmup_max_lr": "auto",
                                                     "warmup_num_steps": "auto", "warmup_type": "linear"}},
        "zero_optimization": {"stage": )" +
         std::to_string(stage) + (stage > 0 ? R"(, "offload_optimizer": {"device": "cpu"}}})" : "}}");
}
std::string frozen_config(int stage = 0) {
  return R"({"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": )" + std::to_string(stage) + "}}";
}
const std::string kTrainedConfig = trained_config();
constexpr const char* kLoopKeys = R"("data": {"path": "corpus.txt", "val_fraction": 0.1}, "ranks": 2,
    "seq_len": 16, "micro_batch": 2, "lr": 0.01, "weight_decay": 0.0, "warmup_steps": 2, "seed": 5,
    "eval_batches": 3, "data_cache": "cache")";

class DistillRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("run");
    // Words drawn from a small vocabulary with a skewed distribution: something a model can learn.
    const char* words[] = {"the", "and", "of", "to", "in", "that", "he", "shall", "unto", "for", "his", "lord"};
    std::mt19937_64 gen(3);
    std::ofstream corpus(dir_ / "corpus.txt");
    for (int i = 0; i < 6000; ++i) corpus << words[(gen() % 12) * (gen() % 12) / 12] << (i % 13 == 12 ? ".\n" : " ");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  // The teacher, trained with `tandem train` into dir/teacher; returns its summary.
  TrainSummary train_teacher() const {
    const auto file = write("teacher.json", std::string(R"({"model": )") + kTeacherModel + R"(, "deepspeed": )" +
                                                kTrainedConfig + R"(, "steps": 6, "checkpoint_dir": "teacher", )" +
                                                kLoopKeys + "}");
    TrainOptions quiet;
    quiet.progress = false;
    return train(load_run_file(file), quiet);
  }
  std::filesystem::path distill_file(const std::string& extra = "", const std::string& name = "distill.json",
                                     int student_stage = 0, int teacher_stage = 0) const {
    return write(name, std::string(R"({"student": {"model": )") + kStudentModel + R"(, "deepspeed": )" +
                           trained_config(student_stage) + R"(}, "teacher": {"model": )" + kTeacherModel +
                           R"(, "deepspeed": )" + frozen_config(teacher_stage) +
                           R"(, "checkpoint": "teacher"}, "alpha": 1.0, "temperature": 1.0,
        "steps": 4, "checkpoint_dir": "student", "metrics": "student/metrics.jsonl", )" +
                           kLoopKeys + extra + "}");
  }
  std::string load_error(const std::filesystem::path& file) const {
    try {
      load_distill_run_file(file);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  }

  std::filesystem::path dir_;
  DistillOptions quiet_ = [] {
    DistillOptions o;
    o.progress = false;
    return o;
  }();
};

TEST_F(DistillRun, TheStudentLearnsFromTheTeacherOfATrainCheckpoint) {
  const TrainSummary teacher = train_teacher();
  const DistillRunFile run = load_distill_run_file(distill_file());
  EXPECT_EQ(run.loss.alpha, 1.0);
  EXPECT_EQ(resolve_teacher_checkpoint(run), dir_ / "teacher" / "step-00000006");
  const DistillSummary s = distill(run, quiet_);
  // The teacher was loaded from its checkpoint: its validation loss on the same batches is the
  // one `tandem train` reported, bit for bit (a freshly initialised teacher would not give it).
  EXPECT_EQ(s.teacher_val_loss, teacher.val_loss);
  EXPECT_EQ(s.student.steps, 4);
  EXPECT_GT(s.kd_loss, 0.0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "student" / "step-00000004" / "model.safetensors"));
  std::ifstream metrics(dir_ / "student" / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line); ++lines) {
    const json::Document doc = json::parse(line);
    ASSERT_NE(doc.root.find("kd_loss"), nullptr) << line;
    EXPECT_GT(doc.root.find("kd_loss")->as_double(), 0.0) << line;
  }
  EXPECT_EQ(lines, 4);
}

TEST_F(DistillRun, TheBaselineIsTheSameStudentTrainedAlone) {
  train_teacher();
  const DistillRunFile run = load_distill_run_file(distill_file());
  DistillOptions baseline = quiet_;
  baseline.with_teacher = false;
  const DistillSummary without = distill(run, baseline);
  EXPECT_EQ(without.kd_loss, 0.0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "student-baseline" / "latest"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "student" / "metrics-baseline.jsonl"));
  TrainOptions quiet;
  quiet.progress = false;
  RunFile alone = run.student;
  alone.checkpoint_dir.clear();
  alone.metrics.clear();
  EXPECT_EQ(train(alone, quiet).val_loss, without.student.val_loss);  // bit for bit
  EXPECT_NE(distill(run, quiet_).student.val_loss, without.student.val_loss);
}

TEST_F(DistillRun, AResumedDistillationRepeatsTheUninterruptedOneBitForBit) {
  // Under the seed's stages where this build has them: a ZeRO-2 student with its optimizer
  // offloaded, each rank's partition in its own file, and a ZeRO-3 teacher.
  const int student_stage = test::has_stage(2) ? 2 : 0, teacher_stage = test::has_stage(3) ? 3 : 0;
  SCOPED_TRACE("student ZeRO-" + std::to_string(student_stage) + ", teacher ZeRO-" + std::to_string(teacher_stage));
  train_teacher();
  auto file = [&] { return distill_file("", "distill.json", student_stage, teacher_stage); };
  const DistillSummary whole = distill(load_distill_run_file(file()), quiet_);
  const auto whole_model = test::file_bytes(dir_ / "student" / "step-00000004" / "model.safetensors");
  const auto whole_rank1 = test::file_bytes(dir_ / "student" / "step-00000004" / "rank1.safetensors");
  std::filesystem::remove_all(dir_ / "student");

  DistillOptions first = quiet_;
  first.stop_after = 2;
  distill(load_distill_run_file(file()), first);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "student" / "step-00000004"));
  DistillOptions rest = quiet_;
  rest.resume = true;
  const DistillSummary resumed = distill(load_distill_run_file(file()), rest);
  EXPECT_EQ(resumed.student.val_loss, whole.student.val_loss);
  EXPECT_EQ(test::file_bytes(dir_ / "student" / "step-00000004" / "model.safetensors"), whole_model);
  EXPECT_EQ(test::file_bytes(dir_ / "student" / "step-00000004" / "rank1.safetensors"), whole_rank1);
}

TEST_F(DistillRun, BadRunFilesAreRefusedWhereTheyAreWrong) {
  std::string e = load_error(distill_file(R"(, "alpah": 1)"));
  EXPECT_NE(e.find("distill.json:"), std::string::npos) << e;
  EXPECT_NE(e.find("alpah: unknown key"), std::string::npos) << e;
  const std::vector<char> bytes = test::file_bytes(distill_file());
  std::string text(bytes.begin(), bytes.end());
  text.replace(text.find(R"("temperature": 1.0)"), 18, R"("temperature": 0)");
  write("zero_t.json", text);
  e = load_error(dir_ / "zero_t.json");
  EXPECT_NE(e.find("temperature"), std::string::npos) << e;
  e = load_error(write("no_teacher.json", std::string(R"({"student": {"model": )") + kStudentModel +
                                              R"(, "deepspeed": "x.json"}, "steps": 1, )" + kLoopKeys + "}"));
  EXPECT_NE(e.find("the run file needs \"teacher\""), std::string::npos) << e;
  e = load_error(write("teacher_key.json", std::string(R"({"student": {"model": )") + kStudentModel +
                                               R"(, "deepspeed": "x.json"}, "teacher": {"model": )" + kTeacherModel +
                                               R"(, "deepspeed": "y.json", "checkpont": "t"}, "steps": 1, )" +
                                               kLoopKeys + "}"));
  EXPECT_NE(e.find("teacher.checkpont: unknown key in \"teacher\""), std::string::npos) << e;

  // No teacher checkpoint yet: refused before anything is built, saying how to make one.
  const DistillRunFile run = load_distill_run_file(distill_file());
  try {
    distill(run, quiet_);
    FAIL() << "a missing teacher checkpoint was accepted";
  } catch (const std::invalid_argument& err) {
    EXPECT_NE(std::string(err.what()).find("teacher.checkpoint"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("tandem train"), std::string::npos) << err.what();
  }
  const std::string tandem = std::string(TANDEM_TEST_BINARY_DIR) + "/bin/tandem distill ";
  EXPECT_EQ(WEXITSTATUS(std::system((tandem + (dir_ / "distill.json").string() + " -q 2> /dev/null").c_str())), 2);
  EXPECT_EQ(WEXITSTATUS(std::system((tandem + (dir_ / "zero_t.json").string() + " 2> /dev/null").c_str())), 2);
}

TEST_F(DistillRun, ATeacherConfigWithAnOptimizerIsRefused) {
  train_teacher();
  const auto file = write("trained_teacher.json",
                          std::string(R"({"student": {"model": )") + kStudentModel + R"(, "deepspeed": )" +
                              kTrainedConfig + R"(}, "teacher": {"model": )" + kTeacherModel + R"(, "deepspeed": )" +
                              kTrainedConfig + R"(, "checkpoint": "teacher"}, "steps": 2, )" + kLoopKeys + "}");
  try {
    distill(load_distill_run_file(file), quiet_);
    FAIL() << "a teacher with an optimizer was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("the teacher is frozen"), std::string::npos) << e.what();
  }
}

TEST_F(DistillRun, DisjointModelsOfOneRunFileEachEndAsTrainedAlone) {
  const auto file = write("models.json", std::string(R"({"models": {
      "first_model": {"model": )") + kStudentModel + R"(, "deepspeed": )" + kTrainedConfig + R"(},
      "second_model": {"model": )" + kTeacherModel + R"(, "deepspeed": )" + kTrainedConfig +
                                             R"(, "lr": 0.005, "seed": 9}},
      "steps": 3, "checkpoint_dir": "models", "metrics": "models/metrics.jsonl", )" +
                                             kLoopKeys + "}");
  ASSERT_TRUE(is_multi_model_run_file(file));
  const MultiModelRunFile run = load_multi_model_run_file(file);
  ASSERT_EQ(run.models.size(), 2u);
  EXPECT_EQ(run.models[1].run.model.seed, 9u);  // its weights; the data order stays the run's
  EXPECT_EQ(run.models[1].run.seed, 5u);
  EXPECT_EQ(*run.models[1].run.lr, 0.005);
  TrainOptions quiet;
  quiet.progress = false;
  const std::vector<ModelSummary> together = train_models(run, quiet);
  ASSERT_EQ(together.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(run.models[i].name);
    EXPECT_EQ(together[i].name, run.models[i].name);
    EXPECT_TRUE(std::filesystem::exists(dir_ / "models" / run.models[i].name / "step-00000003" / "engine.json"));
    RunFile alone = run.models[i].run;
    alone.checkpoint_dir.clear();
    alone.metrics.clear();
    EXPECT_EQ(train(alone, quiet).val_loss, together[i].summary.val_loss);  // bit for bit
  }
  EXPECT_NE(together[0].summary.val_loss, together[1].summary.val_loss);
  EXPECT_FALSE(is_multi_model_run_file(distill_file()));
}

}  // namespace
}  // namespace tandem
