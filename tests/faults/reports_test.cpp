// What a run reports must be true: no validation loss when there is no validation data (not 0), a
// finished run resumed says it is finished (not zero losses), and eval_batches beyond the data is
// clamped with a warning. The real `tandem` binary, as the other fault tests.
#include <gtest/gtest.h>

#include "fault_support.hpp"

namespace tandem {
namespace {

using test::read_text;
using test::run_tandem;

class Reports : public ::testing::Test {
 protected:
  test::Scratch scratch_{"reports"};

  // train_run with the data's val_fraction or eval_batches replaced.
  std::string run_with(const std::string& from, const std::string& to, int steps = 2) {
    std::string text = test::train_run(steps, "ck");
    text.replace(text.find(from), from.size(), to);
    return text;
  }
};

TEST_F(Reports, NoValidationDataMeansNoValidationLossNotZero) {
  const auto run = scratch_.write("run.json", run_with("\"val_fraction\": 0.1", "\"val_fraction\": 0"));
  std::string err;
  ASSERT_EQ(run_tandem({"train", run.string()}, scratch_ / "train", &err), 0) << err;
  const std::string out = read_text(scratch_ / "train.out");
  EXPECT_NE(out.find("validation loss not measured (no validation data)"), std::string::npos) << out;
  EXPECT_EQ(out.find("validation loss 0"), std::string::npos) << out;
  EXPECT_EQ(err.find("val_loss"), std::string::npos) << "the progress line shows none: " << err;
  EXPECT_EQ(read_text(scratch_ / "ck-metrics.jsonl").find("val_loss"), std::string::npos);
}

TEST_F(Reports, AFinishedRunResumedSaysSoAndTrainsNothing) {
  const auto run = scratch_.write("run.json", test::train_run(2, "ck"));
  ASSERT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "first"), 0);
  const std::string first = read_text(scratch_ / "first.out");
  const std::string metrics = read_text(scratch_ / "ck-metrics.jsonl");
  std::string err;
  ASSERT_EQ(run_tandem({"train", run.string(), "-q", "--resume"}, scratch_ / "again", &err), 0) << err;
  const std::string out = read_text(scratch_ / "again.out");
  EXPECT_NE(out.find("the run had already done its 2 steps (checkpoint " + (scratch_ / "ck/step-00000002").string() +
                     "): nothing trained; validation loss "),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("train loss 0"), std::string::npos) << out;
  // The validation loss it prints is the checkpoint's: the one the run printed at its end.
  const auto loss_after = [](const std::string& text, const std::string& key) {
    const size_t at = text.find(key);
    return at == std::string::npos ? std::string() : text.substr(at + key.size(), text.find_first_of(" ;(", at + key.size()) - at - key.size());
  };
  EXPECT_EQ(loss_after(out, "validation loss "), loss_after(first, "validation loss ")) << out << first;
  EXPECT_FALSE(loss_after(first, "validation loss ").empty()) << first;
  EXPECT_EQ(read_text(scratch_ / "ck-metrics.jsonl"), metrics) << "nothing appended, nothing dropped";
}

TEST_F(Reports, EvalBatchesBeyondTheDataAreClampedWithAWarning) {
  const auto run = scratch_.write("run.json", run_with("\"eval_batches\": 2", "\"eval_batches\": 100000"));
  std::string err;
  ASSERT_EQ(run_tandem({"train", run.string(), "-q"}, scratch_ / "train", &err), 0) << err;
  EXPECT_NE(err.find("eval_batches 100000 is more than the "), std::string::npos) << err;
  EXPECT_NE(err.find(" validation batches the data holds: using "), std::string::npos) << err;
  // A fraction too small for one batch a rank is refused by the loader, naming what to raise.
  std::string text = test::train_run(2, "ck2");
  text.replace(text.find("\"val_fraction\": 0.1"), 19, "\"val_fraction\": 0.0001");
  const auto tiny = scratch_.write("tiny.json", text);
  EXPECT_EQ(run_tandem({"train", tiny.string(), "-q"}, scratch_ / "tiny", &err), 2);
  EXPECT_NE(err.find("raise val_fraction or use more data"), std::string::npos) << err;
}

}  // namespace
}  // namespace tandem
