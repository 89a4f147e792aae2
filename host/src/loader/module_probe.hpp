// Reading a module file's descriptor without running its code in this process: a small helper
// program, tandem-module-probe (host/src/probe/), opens each file in its own process and writes back
// what the registry needs to list the module. A module whose static constructors crash, call exit or
// never return then takes down the probe, not the command, and is refused by name; the registry
// opens a module in this process only when a command selects it, after its probe succeeded.
//
// Why a spawned helper rather than fork(): by the time a registry scans, the process may have threads
// (the signal watcher of `tandem train`, oneTBB's workers, a C++ user's own), and a forked child of a
// threaded process may only call async-signal-safe functions until it execs; dlopen and a module's
// constructors are not. posix_spawn of a fresh executable has no such limit.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tandem/registry.hpp"

namespace tandem {
class LoadedLibrary;
}

namespace tandem::loader {

// What a successful probe learnt from the descriptor (already validated in the probe).
struct ProbedModule {
  ModuleKind kind = ModuleKind::Scheduler;
  std::string name, version, summary;
  uint16_t abi_major = 0, abi_minor = 0;
};

// One file's result: a module, or the reason it is refused. `died` marks a load that killed the probe,
// ended it or ran out of time: worth a warning even where nobody selects the module.
struct ProbeOutcome {
  std::optional<ProbedModule> module;
  std::string refusal;
  bool died = false;
};

// In this process: opens `file` (ELF check, dlopen RTLD_NOW | RTLD_LOCAL), calls its entry point and
// validates the descriptor; on success `library` holds the opened file. What the probe program does
// for each file (keeping every library until it _exits, so that no destructor runs between files),
// and what the registry does for a file already loaded here (is_loaded_in_this_process).
ProbeOutcome inspect_module_file(const std::filesystem::path& file, std::shared_ptr<LoadedLibrary>& library);

// True if the dynamic linker already has `file` loaded in this process (an earlier registry opened
// it: a module with CUDA code stays loaded). Its constructors ran here already and do not run
// again, so the registry reads its descriptor here instead of paying a probe (for the gpt module
// with CUDA, loading cuBLASLt in a fresh process takes about 0.7 s).
bool is_loaded_in_this_process(const std::filesystem::path& file);

// The probe program's output, one line per event on its result descriptor: "begin <i>" before file i
// is opened, then "module <i> <kind> <major> <minor> <name> <version> <summary>" or "refused <i>
// <reason>", fields separated by tabs (escaped inside fields).
std::string encode_begin(size_t index);
std::string encode_outcome(size_t index, const ProbeOutcome& outcome);
// Parses one line (without its '\n'); false if it is not one of the lines above.
enum class ProbeEvent { begin, result };
bool decode_line(const std::string& line, ProbeEvent& event, size_t& index, ProbeOutcome& outcome);

// The descriptor the probe program writes its lines to (its stdout is /dev/null, so that what a
// module prints while loading cannot be taken for a result).
constexpr int kProbeResultFd = 3;

// Where the probe program lives: beside libtandem, as lib/tandem/tandem-module-probe, in the build
// tree and in an installed tree alike.
std::filesystem::path module_probe_location();

// How long one file may take to load in the probe: TANDEM_MODULE_LOAD_TIMEOUT (seconds, > 0), else
// kDefaultLoadTimeoutSeconds. Throws ModuleError naming the variable if its value is not such a number.
constexpr double kDefaultLoadTimeoutSeconds = 20.0;
double module_load_timeout_seconds();

// Probes `files` with the program at `probe`, each within `timeout_seconds`; one outcome per file, in
// order. Normally one probe process reads them all; after a file kills it (or runs out of time and is
// killed) a new one goes on with the next file.
std::vector<ProbeOutcome> probe_module_files(const std::vector<std::filesystem::path>& files,
                                             const std::filesystem::path& probe, double timeout_seconds);

}  // namespace tandem::loader
