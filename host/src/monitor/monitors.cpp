#include "monitor/monitors.hpp"

#include <stdexcept>

#include "io/output_path.hpp"
#include "monitor/csv_monitor.hpp"
#include "monitor/tfevents.hpp"
#include "tandem/train.hpp"

namespace tandem::monitor {

namespace {

namespace fs = std::filesystem;

constexpr const char* kTrainLoss = "Train/Samples/train_loss";
constexpr const char* kLr = "Train/Samples/lr";
constexpr const char* kLossScale = "Train/Samples/loss_scale";
constexpr const char* kValLoss = "Train/Samples/val_loss";

void make_log_dir(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw std::invalid_argument(what + " " + dir.string() + " is " +
                                io::irregular_kind(dir).value_or("a regular file") +
                                ", not a directory: set another output_path or job_name");
  fs::create_directories(dir, ec);
  if (ec) throw CheckpointWriteError("cannot make the " + what + " directory " + dir.string() + ": " + ec.message());
}

bool holds_event_files(const fs::path& dir) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) return true;
  return false;
}

}  // namespace

Monitors::Monitors(const MonitorSetup& setup) : setup_(setup) {
  if (setup.config_tree == nullptr) return;
  csv_ = read_monitor_block(*setup.config_tree, "csv_monitor", setup.config_source, setup.base);
  tensorboard_ = read_monitor_block(*setup.config_tree, "tensorboard", setup.config_source, setup.base);
  tags_ = {kTrainLoss, kLr};
  if (setup.fp16) tags_.push_back(kLossScale);
  tags_.push_back(kValLoss);
  if (!setup.rank0) return;
  const std::string again = "--resume continues its run, --overwrite starts over, or set another job_name";
  if (csv_.enabled) {
    make_log_dir(csv_.log_dir, setup.run_source + ": csv_monitor");
    for (const std::string& tag : tags_)
      io::check_output_path(csv_.log_dir / csv_file_name(tag), setup.resume || setup.overwrite,
                            setup.run_source + ": csv_monitor file", again);
  }
  if (tensorboard_.enabled) {
    make_log_dir(tensorboard_.log_dir, setup.run_source + ": tensorboard");
    if (!setup.resume && !setup.overwrite && holds_event_files(tensorboard_.log_dir))
      throw std::invalid_argument(setup.run_source + ": tensorboard directory " + tensorboard_.log_dir.string() +
                                  " already holds event files (an earlier run's): " + again);
  }
}

Monitors::~Monitors() = default;
Monitors::Monitors(Monitors&&) noexcept = default;
Monitors& Monitors::operator=(Monitors&&) noexcept = default;

void Monitors::start(int64_t global_steps) {
  if (!setup_.rank0) return;
  const int64_t samples = global_steps * setup_.train_batch_size;
  if (csv_.enabled) csv_writer_ = std::make_unique<CsvMonitor>(csv_.log_dir, tags_, setup_.resume ? samples : -1);
  if (tensorboard_.enabled) {
    try {
      events_ = std::make_unique<EventFileWriter>(tensorboard_.log_dir);
      // A resumed or restarted run: what older files hold from here on is superseded.
      if (setup_.resume || setup_.overwrite) events_->add_session_start(setup_.overwrite ? 0 : samples + 1);
    } catch (const std::runtime_error& e) {
      throw CheckpointWriteError(e.what());
    }
  }
}

void Monitors::write_step(int64_t step, double loss, double lr, double loss_scale, std::optional<double> val_loss) {
  if (!csv_writer_ && !events_) return;
  const int64_t samples = step * setup_.train_batch_size;
  std::vector<std::pair<const char*, double>> events = {{kTrainLoss, loss}, {kLr, lr}};
  if (setup_.fp16) events.emplace_back(kLossScale, loss_scale);
  if (val_loss) events.emplace_back(kValLoss, *val_loss);
  for (const auto& [tag, value] : events) {
    if (csv_writer_) csv_writer_->write(tag, samples, value);
    try {
      if (events_) events_->add_scalar(tag, static_cast<float>(value), samples);
    } catch (const std::runtime_error& e) {
      throw CheckpointWriteError(e.what());
    }
  }
}

void refuse_shared_log_dirs(const std::vector<std::pair<std::string, const Monitors*>>& models,
                            const std::string& run_source) {
  for (size_t i = 0; i < models.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      for (const char* kind : {"csv_monitor", "tensorboard"}) {
        const bool csv = std::string(kind) == "csv_monitor";
        const MonitorBlock& a = csv ? models[i].second->csv() : models[i].second->tensorboard();
        const MonitorBlock& b = csv ? models[j].second->csv() : models[j].second->tensorboard();
        if (a.enabled && b.enabled && fs::weakly_canonical(a.log_dir) == fs::weakly_canonical(b.log_dir))
          throw std::invalid_argument(run_source + ": models \"" + models[j].first + "\" and \"" + models[i].first +
                                      "\" would both write " + kind + " files to " + a.log_dir.string() +
                                      ": give each model's config a " + kind + ".job_name of its own");
      }
}

}  // namespace tandem::monitor
