#include "train/checkpoint_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tandem/json.hpp"

namespace tandem {

namespace {

std::string step_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return name;
}

// Flushes a file or directory to disk so that a rename after it publishes complete data.
void sync_path(const std::filesystem::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::optional<std::filesystem::path> CheckpointDir::latest() const {
  const std::filesystem::path pointer = dir_ / "latest";
  std::ifstream in(pointer);
  if (!in) return std::nullopt;
  std::string name;
  std::getline(in, name);
  const std::filesystem::path found = dir_ / name;
  if (name.empty() || !std::filesystem::is_directory(found))
    throw std::runtime_error(pointer.string() + " names \"" + name + "\", which is not a checkpoint directory");
  return found;
}

std::filesystem::path CheckpointDir::write(int64_t step, const std::function<void(const std::filesystem::path&)>& fill) {
  std::filesystem::create_directories(dir_);
  // Partial directories of runs that died are never read; clear them.
  for (const auto& entry : std::filesystem::directory_iterator(dir_))
    if (entry.path().filename().string().find(".partial-") != std::string::npos)
      std::filesystem::remove_all(entry.path());

  const std::filesystem::path final_dir = dir_ / step_name(step);
  const std::filesystem::path partial = dir_ / (step_name(step) + ".partial-" + std::to_string(::getpid()));
  std::filesystem::create_directory(partial);
  fill(partial);
  for (const auto& entry : std::filesystem::directory_iterator(partial)) sync_path(entry.path());
  sync_path(partial);
  if (std::filesystem::exists(final_dir)) std::filesystem::remove_all(final_dir);
  std::filesystem::rename(partial, final_dir);

  const std::filesystem::path pointer_tmp = dir_ / ("latest.partial-" + std::to_string(::getpid()));
  {
    std::ofstream out(pointer_tmp);
    out << step_name(step) << "\n";
    if (!out) throw std::runtime_error("cannot write " + pointer_tmp.string());
  }
  sync_path(pointer_tmp);
  std::filesystem::rename(pointer_tmp, dir_ / "latest");
  sync_path(dir_);
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
  std::ofstream out(file, std::ios::trunc);
  for (const std::string& l : kept) out << l << "\n";
}

}  // namespace tandem
