// `tandem modules`: every module found, then every file refused and why.
#include <cmath>
#include <iomanip>
#include <sstream>
#include <iostream>

#include "cli/cli.hpp"

namespace tandem::cli {

namespace {

const char* param_type_name(uint32_t type) {
  switch (type) {
    case TANDEM_PARAM_BOOL: return "bool";
    case TANDEM_PARAM_INT: return "int";
    case TANDEM_PARAM_FLOAT: return "float";
    case TANDEM_PARAM_STRING: return "string";
    case TANDEM_PARAM_FLOAT_PER_GROUP: return "float or [float per group]";
  }
  return "?";
}

std::string range_text(const tandem_param_spec& p) {
  if (p.type == TANDEM_PARAM_STRING || p.type == TANDEM_PARAM_BOOL) {
    if (p.choices == nullptr) return "";
    std::string out = "one of";
    for (const char* const* c = p.choices; *c != nullptr; ++c) out += std::string(c == p.choices ? " " : ", ") + *c;
    return out;
  }
  const bool low = std::isfinite(p.min), high = std::isfinite(p.max);
  std::ostringstream s;
  if (low && high) s << "in [" << p.min << ", " << p.max << "]";
  else if (low) s << ">= " << p.min;
  else if (high) s << "<= " << p.max;
  return s.str();
}

void print_schema(const ModuleRegistry& registry, const ModuleInfo& m) {
  // The parameters are in the descriptor: the module is opened here (its probe succeeded).
  const tandem_module_descriptor* opened = nullptr;
  try {
    opened = &registry.open(m);
  } catch (const ModuleError& e) {
    std::cout << "    (cannot show its parameters: " << e.what() << ")\n";
    return;
  }
  const tandem_module_descriptor& d = *opened;
  if (d.param_count == 0) {
    std::cout << "    (no parameters)\n";
    return;
  }
  for (uint32_t i = 0; i < d.param_count; ++i) {
    const tandem_param_spec& p = d.params[i];
    std::cout << "    " << std::left << std::setw(28) << p.name << " " << param_type_name(p.type);
    if (p.required) std::cout << ", required";
    else std::cout << ", default " << p.default_json;
    if (const std::string r = range_text(p); !r.empty()) std::cout << ", " << r;
    std::cout << "\n      " << (p.help ? p.help : "") << "\n";
  }
}

}  // namespace

int run_modules(const Args& args) {
  std::vector<std::string> dirs;
  po::options_description options("tandem modules");
  add_module_path_option(options, dirs);
  options.add_options()("verbose,v", "also show each module's parameters");
  po::variables_map vm;
  if (!parse(args, options, {}, vm,
             "usage: tandem modules [--module-path DIR]... [--verbose]\n"
             "Lists the modules found in the default module directory, then TANDEM_MODULE_PATH, then\n"
             "each --module-path; then each file that was refused, with the reason."))
    return kExitOk;

  ModuleRegistry registry;
  const std::vector<std::filesystem::path> search = ModuleRegistry::default_search_path(to_paths(dirs));
  registry.scan(search);

  std::cout << "searched:";
  for (const auto& dir : search) std::cout << " " << dir.string();
  std::cout << "\n\n";
  std::cout << std::left << std::setw(10) << "KIND" << " " << std::setw(18) << "NAME" << " " << std::setw(8) << "VERSION"
            << " " << std::setw(5) << "ABI" << " FILE\n";
  for (const ModuleInfo& m : registry.modules()) {
    std::cout << std::left << std::setw(10) << kind_name(m.kind) << " " << std::setw(18) << m.name << " "
              << std::setw(8) << m.version << " " << std::setw(5)
              << (std::to_string(m.abi_major) + "." + std::to_string(m.abi_minor)) << " " << m.file.string() << "\n";
    if (vm.count("verbose")) {
      std::cout << "    " << m.summary << "\n";
      print_schema(registry, m);
    }
  }
  if (registry.modules().empty()) std::cout << "(no modules found)\n";
  if (!registry.refusals().empty()) {
    std::cout << "\nrefused:\n";
    for (const Refusal& r : registry.refusals()) std::cout << "  " << r.file.string() << ": " << r.reason << "\n";
  }
  return kExitOk;
}

}  // namespace tandem::cli
