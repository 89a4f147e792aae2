#include "train/checkpoint_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "io/atomic_file.hpp"
#include "tandem/checkpoint.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "tandem/json.hpp"
#include "tandem/train.hpp"

namespace tandem {

namespace {

std::string step_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return name;
}

// Flushes a file or directory to disk so that a rename after it publishes complete data.
void sync_path(const std::filesystem::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// The checkpoints in `dir`, newest first.
std::vector<std::pair<int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& dir) {
  std::vector<std::pair<int64_t, std::filesystem::path>> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (const std::optional<int64_t> step = checkpoint_step(entry.path()); step && entry.is_directory())
      out.emplace_back(*step, entry.path());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

// The step "latest" names, if it names one.
std::optional<int64_t> pointer_step(const std::filesystem::path& dir) {
  std::ifstream in(dir / "latest");
  std::string name;
  if (!in || !std::getline(in, name)) return std::nullopt;
  return checkpoint_step(name);
}

}  // namespace

std::optional<int64_t> checkpoint_step(const std::filesystem::path& dir) {
  const std::string name = dir.filename().string();
  if (name.size() < 6 || name.compare(0, 5, "step-") != 0) return std::nullopt;
  int64_t step = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || step > (INT64_MAX - 9) / 10) return std::nullopt;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

std::optional<std::filesystem::path> CheckpointDir::latest(std::ostream& log, std::optional<int64_t> at_most) const {
  const std::optional<int64_t> pointer = pointer_step(dir_);
  std::vector<std::string> damaged;  // "step-N (reason)"
  std::optional<std::filesystem::path> found;
  for (const auto& [step, path] : list_checkpoints(dir_)) {
    // A checkpoint newer than "latest" is one whose publication a crash cut short, or an abandoned
    // run's; "latest" decides, as it did before manifests existed.
    if ((pointer && step > *pointer) || (at_most && step > *at_most)) continue;
    if (const std::optional<std::string> damage = find_checkpoint_damage(path)) {
      damaged.push_back(path.filename().string() + ": " + *damage);
      continue;
    }
    found = path;
    break;
  }
  for (const std::string& d : damaged) {
    const size_t colon = d.find(": ");
    log << "checkpoint " << d.substr(0, colon) << " is damaged: " << d.substr(colon + 2) << "; "
        << (found ? "using " + found->filename().string() : std::string("no older checkpoint")) << "\n";
  }
  if (!found && !damaged.empty()) {
    std::string all;
    for (const std::string& d : damaged) all += "\n  " + d;
    throw CheckpointError(dir_.string() + ": no whole checkpoint to resume from:" + all);
  }
  return found;
}

std::vector<std::filesystem::path> CheckpointDir::newer_than(int64_t step) const {
  std::vector<std::filesystem::path> out;
  for (const auto& [s, path] : list_checkpoints(dir_))
    if (s > step) out.push_back(path);
  return out;
}

std::filesystem::path CheckpointDir::write(int64_t step, const std::function<void(const std::filesystem::path&)>& fill) {
  const std::filesystem::path final_dir = dir_ / step_name(step);
  const std::filesystem::path partial = dir_ / (step_name(step) + ".partial-" + std::to_string(::getpid()));
  const std::string what = "cannot write checkpoint " + final_dir.string() + ": ";
  try {
    std::filesystem::create_directories(dir_);
    // Partial directories of runs that died are never read; clear them.
    for (const auto& entry : std::filesystem::directory_iterator(dir_))
      if (entry.path().filename().string().find(".partial-") != std::string::npos)
        std::filesystem::remove_all(entry.path());
    std::filesystem::create_directory(partial);
    fill(partial);
    write_checkpoint_manifest(partial);  // last: its presence says every file before it is complete
    for (const auto& entry : std::filesystem::directory_iterator(partial)) sync_path(entry.path());
    sync_path(partial);
    if (std::filesystem::exists(final_dir)) std::filesystem::remove_all(final_dir);
    std::filesystem::rename(partial, final_dir);
    io::write_atomically(dir_ / "latest", [&](io::FileSink& sink) {
      const std::string line = step_name(step) + "\n";
      sink.write(line.data(), line.size());
    });
  } catch (const std::filesystem::filesystem_error& e) {
    std::error_code ignored;
    std::filesystem::remove_all(partial, ignored);
    const std::string where = e.path1().empty() ? dir_.string() : e.path1().string();
    throw CheckpointWriteError(what + where + ": " + e.code().message());
  } catch (const CheckpointWriteError&) {
    throw;
  } catch (const std::exception& e) {
    std::error_code ignored;
    std::filesystem::remove_all(partial, ignored);
    throw CheckpointWriteError(what + e.what());
  }

  // Retention, only now that the new one is complete: the newest `keep_` up to this step stay; a
  // checkpoint of a later step belongs to a run this one replaced. A failure here loses nothing.
  int64_t kept = 0;
  for (const auto& [s, path] : list_checkpoints(dir_)) {
    const bool keep = s <= step && kept < keep_;
    if (keep) {
      ++kept;
      continue;
    }
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  return final_dir;
}

void truncate_metrics_after(const std::filesystem::path& file, int64_t step) {
  std::ifstream in(file);
  if (!in) return;
  std::vector<std::string> kept;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      const json::Document doc = json::parse(line, file.string());
      const json::Value* s = doc.root.find("step");
      if (s != nullptr && s->is_int() && s->as_int() <= step) kept.push_back(line);
    } catch (const json::ParseError&) {
      // A line cut short by a crash: dropped.
    }
  }
  in.close();
  // Atomically: a crash while rewriting must not lose the lines before the checkpoint.
  io::write_atomically(file, [&](io::FileSink& sink) {
    for (const std::string& l : kept) {
      sink.write(l.data(), l.size());
      sink.write("\n", 1);
    }
  });
}

}  // namespace tandem
