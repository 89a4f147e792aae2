// ModuleRegistry: scanning, refusing, deduplicating and looking up modules; creating instances.
// Each file goes through the same steps (loader/*.hpp): who may write it or a directory on its way,
// its file name; then, in a probe process, its ELF headers, dlopen, the entry point, the descriptor;
// then its file name against the descriptor, and duplicates are settled for the whole batch. The
// module is opened in this process only when a command uses it (open()).
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <ostream>

#include "loader/descriptor_validation.hpp"
#include "loader/file_trust.hpp"
#include "loader/loaded_library.hpp"
#include "loader/module_names.hpp"
#include "loader/module_probe.hpp"
#include "loader/probe_cache.hpp"
#include "loader/param_binding.hpp"
#include "tandem/call.hpp"  // sdk::status_name
#include "tandem/registry.hpp"

namespace tandem {

namespace fs = std::filesystem;

std::string Refusal::message() const { return "refused module file '" + file.string() + "': " + reason; }

struct ModuleRegistry::Candidate {
  ModuleInfo info;
};

// Filled by ModuleRegistry::open() the first time a command uses the module.
struct ModuleLoad {
  std::mutex mutex;
  std::shared_ptr<LoadedLibrary> library;
  const tandem_module_descriptor* descriptor = nullptr;
};

namespace {

std::string quoted_list(const std::vector<fs::path>& files) {
  std::string out;
  for (const auto& f : files) out += (out.empty() ? "'" : ", '") + f.string() + "'";
  return out;
}

std::string module_label(ModuleKind kind, const std::string& name) {
  return std::string(kind_name(kind)) + " '" + name + "'";
}

}  // namespace

ModuleRegistry::ModuleRegistry() = default;

ModuleRegistry::~ModuleRegistry() {
  // Libraries go in the reverse of their (sorted) order; an instance still alive keeps its own.
  while (!modules_.empty()) modules_.pop_back();
}

void ModuleRegistry::scan(const std::vector<fs::path>& directories) {
  std::vector<fs::path> files;
  std::vector<fs::path> seen_directories;
  for (const fs::path& dir : directories) {
    scanned_.push_back(dir);
    std::error_code ec;
    if (!fs::exists(dir, ec)) continue;  // a default directory that this installation does not have
    if (!fs::is_directory(dir, ec)) {
      refusals_.push_back(Refusal{dir, "not a directory (module paths name directories)", std::nullopt, {}});
      continue;
    }
    const fs::path canonical = fs::canonical(dir, ec);
    if (!ec && std::find(seen_directories.begin(), seen_directories.end(), canonical) != seen_directories.end())
      continue;
    seen_directories.push_back(canonical);
    std::optional<std::string> bad = loader::check_not_writable_by_others(dir, "module directory");
    if (!bad) bad = loader::check_path_not_replaceable_by_others(dir, "module directory");
    if (bad) {
      refusals_.push_back(Refusal{dir, *bad + "; none of its modules was loaded", std::nullopt, {}});
      continue;
    }
    std::vector<fs::path> found;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (loader::is_module_file_name(it->path().filename().string())) found.push_back(it->path());
    if (ec) {
      refusals_.push_back(Refusal{dir, "cannot list the module directory: " + ec.message(), std::nullopt, {}});
      continue;
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  load_batch(files);
}

void ModuleRegistry::load_file(const fs::path& file) { load_batch({file}); }

void ModuleRegistry::load_batch(const std::vector<fs::path>& files) {
  const double timeout = loader::module_load_timeout_seconds();  // a bad value is an error before any work
  // First what needs no code of the file: its path, who may write it, its name. Then, for the files
  // left, their descriptors from the probe process; then what the descriptors must agree with.
  struct Pending {
    fs::path file;
    Refusal refusal;
    std::optional<loader::ModuleFileName> name_on_disk;
  };
  std::vector<Pending> pending;
  for (const fs::path& file : files) {
    Refusal refusal{file, {}, std::nullopt, {}};
    const std::string file_name = file.filename().string();
    const std::optional<loader::ModuleFileName> name_on_disk = loader::parse_module_file_name(file_name);
    if (name_on_disk) {
      refusal.kind = name_on_disk->kind;
      refusal.name = name_on_disk->name;
    }
    auto refuse = [&](std::string reason) {
      refusal.reason = std::move(reason);
      refusals_.push_back(std::move(refusal));
    };

    std::error_code ec;
    const fs::path canonical = fs::canonical(file, ec);
    if (ec) {
      refuse(fs::is_symlink(file) ? "dangling symlink (its target does not exist)" : "cannot be opened: " + ec.message());
      continue;
    }
    // The same file met again (a second scan, a symlink to a file already read) is the same module.
    if (std::find(seen_files_.begin(), seen_files_.end(), canonical) != seen_files_.end()) continue;
    seen_files_.push_back(canonical);

    if (!fs::is_regular_file(canonical, ec)) {
      refuse("not a regular file");
      continue;
    }
    // Checked before any of the file's code runs. Between this check and dlopen only the owner or
    // root can change the file or a directory on its way, and those are trusted by the rules themselves.
    if (auto bad = loader::check_not_writable_by_others(file, "module file")) {
      refuse(*bad);
      continue;
    }
    if (auto bad = loader::check_path_not_replaceable_by_others(file, "module file")) {
      refuse(*bad);
      continue;
    }
    if (name_on_disk == std::nullopt && loader::is_module_file_name(file_name)) {
      refuse("the file name does not follow libtandem-<kind>-<name>.so with a kind among stage, optimizer, scheduler, "
             "comm, model");
      continue;
    }
    pending.push_back(Pending{file, std::move(refusal), name_on_disk});
  }

  // A file this process has loaded already is read here, one an earlier probe read unchanged comes
  // from the probe cache (loader/probe_cache.hpp); the others go to the probe.
  std::vector<loader::ProbeOutcome> outcomes(pending.size());
  std::vector<fs::path> to_probe;
  std::vector<size_t> probed_index;
  std::optional<loader::ProbeCache> cache;
  if (!pending.empty()) cache.emplace();
  for (size_t i = 0; i < pending.size(); ++i) {
    if (loader::is_loaded_in_this_process(pending[i].file)) {
      std::shared_ptr<LoadedLibrary> unused;  // released at once: the earlier owner keeps it loaded
      outcomes[i] = loader::inspect_module_file(pending[i].file, unused);
    } else if (std::optional<loader::ProbedModule> known = cache->find(pending[i].file)) {
      outcomes[i].module = std::move(known);
    } else {
      to_probe.push_back(pending[i].file);
      probed_index.push_back(i);
    }
  }
  if (!to_probe.empty()) {
    std::vector<loader::ProbeOutcome> probed = loader::probe_module_files(to_probe, loader::module_probe_location(), timeout);
    for (size_t j = 0; j < probed.size(); ++j) {
      if (probed[j].module) cache->remember(to_probe[j], *probed[j].module);
      outcomes[probed_index[j]] = std::move(probed[j]);
    }
    cache->save();
  }

  std::vector<Candidate> batch;
  for (size_t i = 0; i < pending.size(); ++i) {
    Pending& p = pending[i];
    loader::ProbeOutcome& outcome = outcomes[i];
    Refusal& refusal = p.refusal;
    auto refuse = [&](std::string reason) {
      refusal.reason = std::move(reason);
      refusals_.push_back(std::move(refusal));
    };
    if (!outcome.module) {
      refusal.died_loading = outcome.died;
      refuse(outcome.refusal);
      continue;
    }
    const loader::ProbedModule& probed = *outcome.module;
    refusal.kind = probed.kind;
    refusal.name = probed.name;
    // The name on disk must say what the file is, so that a listing of the directory stays honest.
    if (p.name_on_disk && (p.name_on_disk->kind != probed.kind ||
                           canonical_module_name(p.name_on_disk->name) != canonical_module_name(probed.name))) {
      refuse("the file name says " + module_label(p.name_on_disk->kind, p.name_on_disk->name) + " but the module is " +
             module_label(probed.kind, probed.name) + "; rename the file to libtandem-" +
             std::string(kind_name(probed.kind)) + "-" + probed.name + ".so");
      continue;
    }
    ModuleInfo info;
    info.kind = probed.kind;
    info.name = probed.name;
    info.canonical_name = canonical_module_name(probed.name);
    info.version = probed.version;
    info.summary = probed.summary;
    info.abi_major = probed.abi_major;
    info.abi_minor = probed.abi_minor;
    info.file = p.file;
    info.load = std::make_shared<ModuleLoad>();
    batch.push_back(Candidate{std::move(info)});
  }

  // Duplicates: every file claiming a (kind, name) that another file also claims is refused, naming
  // the others; neither wins silently, whichever directory comes first.
  using Key = std::pair<ModuleKind, std::string>;
  std::map<Key, std::vector<size_t>> claims;  // key -> indices into batch
  for (size_t i = 0; i < batch.size(); ++i) claims[{batch[i].info.kind, batch[i].info.canonical_name}].push_back(i);

  for (auto& claim : claims) {
    // Not a structured binding: clang before 16 cannot capture one in the lambdas below.
    const Key& key = claim.first;
    std::vector<size_t>& indices = claim.second;
    auto contested = std::find_if(contested_.begin(), contested_.end(), [&](const Contested& c) {
      return c.kind == key.first && c.canonical_name == key.second;
    });
    auto existing = std::find_if(modules_.begin(), modules_.end(), [&](const ModuleInfo& m) {
      return m.kind == key.first && m.canonical_name == key.second;
    });
    if (indices.size() == 1 && contested == contested_.end() && existing == modules_.end()) {
      modules_.push_back(std::move(batch[indices[0]].info));
      continue;
    }
    // Everyone who claims the key: earlier claimants first, then this batch's files.
    std::vector<fs::path> claimants;
    std::vector<ModuleInfo> losers;
    if (contested != contested_.end()) claimants = contested->files;
    if (existing != modules_.end()) {
      claimants.push_back(existing->file);
      losers.push_back(std::move(*existing));
      modules_.erase(existing);
    }
    for (size_t i : indices) {
      claimants.push_back(batch[i].info.file);
      losers.push_back(std::move(batch[i].info));
    }
    for (const ModuleInfo& loser : losers) {
      std::vector<fs::path> others;
      for (const fs::path& f : claimants)
        if (f != loser.file) others.push_back(f);
      refusals_.push_back(Refusal{
          loser.file,
          "duplicate module: " + module_label(loser.kind, loser.name) + " is also provided by " + quoted_list(others) +
              " (names match ignoring case, '_' and '-'); none of them is loaded: remove all but one",
          loser.kind, loser.name});
    }
    if (contested != contested_.end()) {
      contested->files = claimants;
    } else {
      contested_.push_back(Contested{key.first, key.second, claimants});
    }
  }

  std::sort(modules_.begin(), modules_.end(), [](const ModuleInfo& a, const ModuleInfo& b) {
    return std::pair(a.kind, a.canonical_name) < std::pair(b.kind, b.canonical_name);
  });
}

const ModuleInfo* ModuleRegistry::find(ModuleKind kind, std::string_view name) const {
  const std::string key = canonical_module_name(name);
  for (const ModuleInfo& m : modules_)
    if (m.kind == kind && m.canonical_name == key) return &m;
  return nullptr;
}

const ModuleInfo& ModuleRegistry::get(ModuleKind kind, std::string_view name) const {
  if (const ModuleInfo* m = find(kind, name)) return *m;
  std::string available;
  for (const ModuleInfo& m : modules_)
    if (m.kind == kind) available += (available.empty() ? "" : ", ") + m.name;
  std::string message = "no " + std::string(kind_name(kind)) + " module named '" + std::string(name) + "'; ";
  message += available.empty() ? "no " + std::string(kind_name(kind)) + " module is loaded"
                               : "available: " + available;
  if (!scanned_.empty()) message += "; searched " + quoted_list(scanned_);
  const std::string key = canonical_module_name(name);
  for (const Refusal& r : refusals_)
    if (r.kind == kind && canonical_module_name(r.name) == key)
      message += "; '" + r.file.string() + "' would provide it but was refused: " + r.reason;
  throw ModuleError(message);
}

const tandem_module_descriptor& ModuleRegistry::open(const ModuleInfo& module) const {
  if (module.load == nullptr) throw ModuleError("'" + module.name + "' is not a module of this registry");
  ModuleLoad& load = *module.load;
  std::lock_guard lock(load.mutex);
  if (load.descriptor != nullptr) return *load.descriptor;
  const std::string context = module_label(module.kind, module.name) + " from '" + module.file.string() + "'";
  std::string reason;
  std::shared_ptr<LoadedLibrary> library = LoadedLibrary::open(module.file, reason);
  if (!library) throw ModuleError(context + ": " + reason);
  const tandem_module_descriptor* descriptor = library->call_entry_point(reason);
  if (!reason.empty()) throw ModuleError(context + ": " + reason);
  if (auto bad = loader::validate_descriptor(descriptor)) throw ModuleError(context + ": " + *bad);
  // The probe read this file a moment ago; only its owner or root could have changed it since.
  if (static_cast<ModuleKind>(descriptor->kind) != module.kind ||
      canonical_module_name(descriptor->name) != module.canonical_name)
    throw ModuleError(context + ": the file now provides " +
                      module_label(static_cast<ModuleKind>(descriptor->kind), descriptor->name) +
                      ", not what the scan found; run the command again");
  load.library = std::move(library);
  load.descriptor = descriptor;
  return *descriptor;
}

void warn_about_modules_that_died_loading(const ModuleRegistry& registry, std::ostream& out) {
  for (const Refusal& r : registry.refusals())
    if (r.died_loading) out << "tandem: warning: " << r.message() << "\n";
}

std::shared_ptr<ModuleInstance> ModuleRegistry::create(const ModuleInfo& module, const json::Value* params,
                                                       const std::string& source, const std::string& label) const {
  const tandem_module_descriptor& d = open(module);
  const std::string context = module_label(module.kind, module.name) + " from '" + module.file.string() + "'";
  const std::string instance_name = label.empty() ? module.name : label;

  const loader::BoundParams bound = loader::bind_params(d, params, source, context);
  const tandem_create_args args{sizeof(tandem_create_args),
                                static_cast<uint16_t>(TANDEM_ABI_MAJOR),
                                static_cast<uint16_t>(TANDEM_ABI_MINOR),
                                bound.data(),
                                bound.size(),
                                instance_name.c_str()};
  std::vector<char> message(kFactoryErrorCapacity, '\0');
  tandem_error error{sizeof(tandem_error), message.data(), message.size()};
  void* handle = nullptr;
  tandem_status status = TANDEM_STATUS_INTERNAL;
  try {
    status = d.create(&args, &handle, &error);
  } catch (...) {
    throw ModuleError(context + ": creating '" + instance_name +
                      "' failed: the factory let an exception cross the C boundary (a module bug)");
  }
  message.back() = '\0';  // whatever the module wrote, the text ends inside the buffer
  if (status != TANDEM_STATUS_OK) {
    const std::string why = message[0] != '\0' ? message.data() : "(the module gave no message)";
    throw ModuleError(context + ": creating '" + instance_name + "' failed with " + sdk::status_name(status) + ": " + why);
  }
  if (handle == nullptr)
    throw ModuleError(context + ": creating '" + instance_name + "': the factory returned OK but no instance");
  try {
    return std::make_shared<ModuleInstance>(module.load->library, &d, handle, instance_name, module.file);
  } catch (...) {
    d.destroy(handle);
    throw;
  }
}

}  // namespace tandem
