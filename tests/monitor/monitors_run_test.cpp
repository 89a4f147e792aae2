// DeepSpeed's monitor blocks in real runs of `tandem train`: csv_monitor's files and tensorboard's
// event file hold every step's train_loss and lr (and the validation loss) at DeepSpeed's x, the
// samples seen; the metrics lines have a timestamp and, in plain training, no kd_loss; a resumed
// run continues the files, a fresh one refuses an earlier run's, --overwrite starts them over; bad
// blocks are refused by JSON path.
#include <gtest/gtest.h>

#include <regex>

#include "cli_support.hpp"
#include "tandem/json.hpp"

namespace tandem {
namespace {

constexpr int64_t kSamplesPerStep = 4;  // micro_batch 2 x 2 ranks x 1 accumulation step
const std::string kMonitors =
    R"(, "csv_monitor": {"enabled": true, "output_path": "mon", "job_name": "csv"},
    "tensorboard": {"enabled": true, "output_path": "mon", "job_name": "tb"})";

std::vector<json::Document> metrics_lines(const std::filesystem::path& file) {
  std::vector<json::Document> out;
  for (const std::string& l : test::text_lines(test::read_text(file))) out.push_back(json::parse(l));
  return out;
}

// The rows of a csv_monitor file after its header, as (step, value).
std::vector<std::pair<int64_t, double>> csv_rows(const std::filesystem::path& file, std::string* header = nullptr) {
  std::vector<std::string> lines = test::text_lines(test::read_text(file));
  std::vector<std::pair<int64_t, double>> rows;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 0) {
      if (header) *header = lines[0];
      continue;
    }
    const size_t comma = lines[i].find(',');
    rows.emplace_back(std::stoll(lines[i].substr(0, comma)), std::stod(lines[i].substr(comma + 1)));
  }
  return rows;
}

std::vector<std::filesystem::path> event_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

json::Document read_events(const std::filesystem::path& file) {
  const std::string command = std::string("python3 ") + READ_TFEVENTS + " '" + file.string() + "'";
  FILE* p = ::popen(command.c_str(), "r");
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  EXPECT_EQ(WEXITSTATUS(::pclose(p)), 0) << file;
  return json::parse(text.empty() ? "{}" : text, "read_tfevents.py");
}

// The (step, value) of one tag of an event file.
std::vector<std::pair<int64_t, double>> scalars(const json::Document& events, const std::string& tag) {
  std::vector<std::pair<int64_t, double>> out;
  for (const json::Value& s : events.root.find("scalars")->items())
    if (s.items()[0].as_string() == tag) out.emplace_back(s.items()[1].as_int(), s.items()[2].as_double());
  return out;
}

// What the metrics say a monitor must hold for `key`: (step x samples per step, value).
std::vector<std::pair<int64_t, double>> expected(const std::vector<json::Document>& lines, const char* key,
                                                 bool as_float) {
  std::vector<std::pair<int64_t, double>> out;
  for (const json::Document& d : lines)
    if (const json::Value* v = d.root.find(key); v != nullptr && v->is_number())
      out.emplace_back(d.root.find("step")->as_int() * kSamplesPerStep,
                       as_float ? static_cast<double>(static_cast<float>(v->as_double())) : v->as_double());
  return out;
}

TEST(Monitors, TrainWritesDeepSpeedsCsvAndTensorBoardFilesAndTimestampedMetrics) {
  test::Scratch scratch("mon-train");
  const auto run = scratch.write("run.json", test::train_run_with(test::config_with(kMonitors), 4, "ck"));
  const test::CliResult r = test::tandem_run({"train", run.string(), "-q"}, scratch / "train");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;  // the blocks are acted on, not ignored

  const std::vector<json::Document> lines = metrics_lines(scratch / "ck-metrics.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (const json::Document& d : lines) {
    ASSERT_NE(d.root.find("timestamp"), nullptr);
    EXPECT_TRUE(std::regex_match(d.root.find("timestamp")->as_string(), iso)) << d.root.find("timestamp")->as_string();
    EXPECT_EQ(d.root.find("kd_loss"), nullptr) << "plain training has no distillation loss";
    EXPECT_EQ(d.root.find("ce_loss"), nullptr);
  }
  EXPECT_LE(lines.front().root.find("timestamp")->as_string(), lines.back().root.find("timestamp")->as_string());

  // csv_monitor: DeepSpeed's file names and headers, the exact doubles of the metrics.
  std::string header;
  EXPECT_EQ(csv_rows(scratch / "mon/csv/Train_Samples_train_loss.csv", &header), expected(lines, "loss", false));
  EXPECT_EQ(header, "step,train_loss");
  EXPECT_EQ(csv_rows(scratch / "mon/csv/Train_Samples_lr.csv", &header), expected(lines, "lr", false));
  EXPECT_EQ(header, "step,lr");
  EXPECT_EQ(csv_rows(scratch / "mon/csv/Train_Samples_val_loss.csv"), expected(lines, "val_loss", false));
  EXPECT_EQ(csv_rows(scratch / "mon/csv/Train_Samples_val_loss.csv").size(), 1u);  // evaluated at the end
  EXPECT_FALSE(std::filesystem::exists(scratch / "mon/csv/Train_Samples_loss_scale.csv"));  // fp32: no loss scale

  // tensorboard: one event file, the same values as float32.
  const std::vector<std::filesystem::path> files = event_files(scratch / "mon/tb");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("events.out.tfevents.", 0), 0u);
  const json::Document events = read_events(files[0]);
  EXPECT_EQ(events.root.find("file_version")->as_string(), "brain.Event:2");
  EXPECT_EQ(scalars(events, "Train/Samples/train_loss"), expected(lines, "loss", true));
  EXPECT_EQ(scalars(events, "Train/Samples/lr"), expected(lines, "lr", true));
  EXPECT_EQ(scalars(events, "Train/Samples/val_loss"), expected(lines, "val_loss", true));
}

TEST(Monitors, AResumedRunContinuesTheFilesAFreshOneRefusesThemAndOverwriteStartsOver) {
  test::Scratch scratch("mon-resume");
  const auto run = scratch.write("run.json", test::train_run_with(test::config_with(kMonitors), 4, "ck"));
  ASSERT_EQ(test::tandem_run({"train", run.string(), "-q", "--stop-after", "2"}, scratch / "a").rc, 0);
  const auto loss_csv = scratch / "mon/csv/Train_Samples_train_loss.csv";
  ASSERT_EQ(csv_rows(loss_csv).size(), 2u);
  // A row written after the newest checkpoint (a run killed between its metrics and its checkpoint).
  std::ofstream(loss_csv, std::ios::app) << "12,9.5\n";

  const test::CliResult resumed = test::tandem_run({"train", run.string(), "-q", "--resume"}, scratch / "b");
  ASSERT_EQ(resumed.rc, 0) << resumed.err;
  const std::vector<json::Document> lines = metrics_lines(scratch / "ck-metrics.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(csv_rows(loss_csv), expected(lines, "loss", false));  // 4, 8, 12, 16: the stale 12 dropped
  std::vector<std::filesystem::path> files = event_files(scratch / "mon/tb");
  ASSERT_EQ(files.size(), 2u);  // the first run's file untouched, a new one beside it
  const json::Document second = read_events(files[1]);
  ASSERT_EQ(second.root.find("session_starts")->items().size(), 1u);
  EXPECT_EQ(second.root.find("session_starts")->items()[0].as_int(), 2 * kSamplesPerStep + 1);
  EXPECT_EQ(scalars(second, "Train/Samples/train_loss").front().first, 3 * kSamplesPerStep);
  EXPECT_EQ(scalars(read_events(files[0]), "Train/Samples/train_loss").size(), 2u);

  // Another run (its own checkpoint_dir) with the same monitors: refused, the files as they were.
  const std::string before = test::read_text(loss_csv);
  const auto other = scratch.write("other.json", test::train_run_with(test::config_with(kMonitors), 4, "ck2"));
  const test::CliResult fresh = test::tandem_run({"train", other.string(), "-q"}, scratch / "c");
  EXPECT_EQ(fresh.rc, 2);
  EXPECT_NE(fresh.err.find("csv_monitor file " + loss_csv.string() + " already exists"), std::string::npos) << fresh.err;
  EXPECT_NE(fresh.err.find("--resume continues its run, --overwrite starts over, or set another job_name"),
            std::string::npos) << fresh.err;
  EXPECT_EQ(test::read_text(loss_csv), before);
  const auto tb_only = scratch.write(
      "tb.json", test::train_run_with(
                     test::config_with(R"(, "tensorboard": {"enabled": true, "output_path": "mon", "job_name": "tb"})"),
                     4, "ck3"));
  const test::CliResult tb_fresh = test::tandem_run({"train", tb_only.string(), "-q"}, scratch / "d");
  EXPECT_EQ(tb_fresh.rc, 2);
  EXPECT_NE(tb_fresh.err.find("tensorboard directory " + (scratch / "mon/tb").string() +
                              " already holds event files (an earlier run's)"),
            std::string::npos) << tb_fresh.err;
  EXPECT_EQ(event_files(scratch / "mon/tb").size(), 2u);

  // --overwrite: the CSVs hold the new run alone; TensorBoard's new file restarts the run at step 0.
  const test::CliResult over = test::tandem_run({"train", other.string(), "-q", "--overwrite"}, scratch / "e");
  ASSERT_EQ(over.rc, 0) << over.err;
  EXPECT_EQ(csv_rows(loss_csv), expected(metrics_lines(scratch / "ck2-metrics.jsonl"), "loss", false));
  files = event_files(scratch / "mon/tb");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(read_events(files[2]).root.find("session_starts")->items()[0].as_int(), 0);
}

TEST(Monitors, BadBlocksAreRefusedByTheirJsonPath) {
  test::Scratch scratch("mon-bad");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(, "tensorboard": {"enabled": "yes"})", "tensorboard.enabled: expected true or false"},
      {R"(, "csv_monitor": {"enabled": true, "job_nam": "x"})",
       "csv_monitor.job_nam: unknown key of csv_monitor (its keys: enabled, output_path, job_name); did you mean "
       "\"job_name\"?"},
      {R"(, "csv_monitor": {"enabled": true, "output_path": 3})", "csv_monitor.output_path: expected a string"},
      {R"(, "tensorboard": {"enabled": true, "job_name": "a/b"})", "tensorboard.job_name: must be a directory name"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto run = scratch.write("run" + std::to_string(i) + ".json",
                                   test::train_run_with(test::config_with(cases[i].first), 2, "ck" + std::to_string(i)));
    const test::CliResult r = test::tandem_run({"train", run.string(), "-q"}, scratch / ("r" + std::to_string(i)));
    EXPECT_EQ(r.rc, 2) << cases[i].first;
    EXPECT_NE(r.err.find(run.string() + ":"), std::string::npos) << r.err;  // the inline config: the run file
    EXPECT_NE(r.err.find(cases[i].second), std::string::npos) << r.err;
  }
}

TEST(Monitors, TwoModelsOfARunEachWriteTheirOwnAndMayNotShareADirectory) {
  test::Scratch scratch("mon-models");
  const std::string a = test::config_with(R"(, "csv_monitor": {"enabled": true, "job_name": "a"})");
  const std::string b = test::config_with(R"(, "csv_monitor": {"enabled": true, "job_name": "b"})");
  const auto run = scratch.write("run.json", test::two_model_run(a, b, 2, "ck"));
  const test::CliResult r = test::tandem_run({"train", run.string(), "-q"}, scratch / "two");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(csv_rows(scratch / "a/Train_Samples_train_loss.csv").size(), 2u);
  EXPECT_EQ(csv_rows(scratch / "b/Train_Samples_train_loss.csv").size(), 2u);
  EXPECT_NE(csv_rows(scratch / "a/Train_Samples_train_loss.csv"), csv_rows(scratch / "b/Train_Samples_train_loss.csv"));

  const std::string same = test::config_with(R"(, "csv_monitor": {"enabled": true, "job_name": "s"})");
  const auto shared = scratch.write("shared.json", test::two_model_run(same, same, 2, "ck2"));
  const test::CliResult s = test::tandem_run({"train", shared.string(), "-q"}, scratch / "shared");
  EXPECT_EQ(s.rc, 2);
  EXPECT_NE(s.err.find("models \"a\" and \"b\" would both write csv_monitor files to"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("give each model's config a csv_monitor.job_name of its own"), std::string::npos) << s.err;
}

}  // namespace
}  // namespace tandem
