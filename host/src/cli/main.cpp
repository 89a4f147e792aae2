// `tandem`: the command line of the tandem runtime. Dispatches to one subcommand.
#include <algorithm>
#include <iostream>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "cli/commands.hpp"
#include "text/near_miss.hpp"
#include "tandem/data.hpp"
#include "tandem/safetensors.hpp"
#include "tandem/tokenizer.hpp"
#include "tandem/abi.h"

namespace {

using tandem::cli::Args;
using tandem::cli::Command;

// `tandem --help`: every command of the table, one line each.
std::string usage() {
  std::string text = "usage: tandem <command> [options]\n\ncommands:\n";
  for (const Command& c : tandem::cli::commands()) {
    std::string name(c.name);
    if (!c.synopsis.empty()) name += " " + std::string(c.synopsis);
    name.resize(std::max<size_t>(name.size() + 2, 32), ' ');
    text += "  " + name + std::string(c.summary) + "\n";
  }
  text +=
      "\n`tandem help <command>` (or `tandem <command> --help`) describes a command's options;\n"
      "`tandem --version` prints the version and the module ABI.\n";
  return text;
}

// "tandem: unknown command 'trian' (did you mean 'train'?)" and what to run instead.
std::string unknown_command(const std::string& command) {
  std::vector<std::string_view> names;
  for (const Command& c : tandem::cli::commands()) names.push_back(c.name);
  const std::optional<std::string> near = tandem::text::nearest_name(command, names);
  return "tandem: unknown command '" + command + "'" + (near ? " (did you mean '" + *near + "'?)" : "") +
         "; `tandem --help` lists the commands\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tandem::cli;
  if (argc < 2) {
    std::cerr << usage();
    return kExitBadInput;
  }
  std::string command = argv[1];
  Args args(argv + 2, argv + argc);
  try {
    if (command == "--help" || command == "-h" || (command == "help" && args.empty())) {
      std::cout << usage();
      return kExitOk;
    }
    if (command == "--version") {
      std::cout << "tandem " << TANDEM_VERSION << " (module ABI " << TANDEM_ABI_MAJOR << "." << TANDEM_ABI_MINOR
                << ")\n";
      return kExitOk;
    }
    if (command == "help") {  // `tandem help CMD [SUB]` is `tandem CMD [SUB] --help`
      command = args.front();
      args.erase(args.begin());
      args.push_back("--help");
    }
    const Command* found = find_command(command);
    if (found == nullptr) {
      std::cerr << unknown_command(command);
      return kExitBadInput;
    }
    return found->run(args);
  } catch (const UsageError& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::json::ParseError& e) {  // a run file or manifest that is not JSON
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::data::DataError& e) {  // a missing, empty or corrupt data file
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::text::TokenizerError& e) {  // a tokenizer's files, or text it cannot encode
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::safetensors::Error& e) {  // weights that do not fit the model
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::ModuleError& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const tandem::PluginError& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::invalid_argument& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    // An allocation the memory check did not foresee (or --skip-memory-check let through): a clear
    // end, not std::terminate. Checkpoints already written are whole (each is renamed into place
    // only when complete).
    std::cerr << "tandem " << command
              << ": out of memory: an allocation failed (std::bad_alloc); the checkpoints written so far are intact. "
                 "Make the model or micro_batch smaller, or give the process more memory (ulimit -v, the cgroup's "
                 "memory.max)\n";
    return kExitFailed;
  } catch (const std::exception& e) {
    std::cerr << "tandem " << command << ": " << e.what() << "\n";
    return kExitFailed;
  }
}
