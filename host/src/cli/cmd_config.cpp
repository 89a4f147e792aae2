// `tandem config check` and `tandem config explain`.
#include <iostream>

#include "cli/cli.hpp"
#include "engine/optimizer_module.hpp"
#include "loader/param_binding.hpp"
#include "runtime/plugin_rules.hpp"

namespace tandem::cli {

namespace {

constexpr const char* kCheckUsage =
    "usage: tandem config check FILE... [--module-path DIR]...\n"
    "Validates each DeepSpeed config: every key DeepSpeed defines, its type, range and deprecated\n"
    "spellings, and that its optimizer, scheduler and stage module (tandem.stage_module) name loadable\n"
    "modules whose schemas accept their params (\"auto\" values are checked when a run resolves them).\n"
    "Warnings go to stderr.";

constexpr const char* kExplainUsage =
    "usage: tandem config explain FILE [--hidden-size H] [--world-size N] [--micro-batch B]\n"
    "           [--grad-accum G] [--lr X] [--weight-decay X] [--warmup-steps N] [--total-steps N]\n"
    "           [--mixed-precision no|fp16|bf16] [--format text|json]\n"
    "Prints the config with every \"auto\" resolved as prepare() would for a run with these facts,\n"
    "then each \"auto\" with the value chosen and why.";

// The JSON paths of every value still "auto" (resolved when a run prepares; config/auto_rules).
void collect_autos(const json::Value& v, std::vector<std::string>& out) {
  if (v.is_auto()) out.push_back(v.path());
  if (v.is_object())
    for (const auto& [name, member] : v.members()) collect_autos(member, out);
  if (v.is_array())
    for (const json::Value& item : v.items()) collect_autos(item, out);
}

// The config's optimizer, scheduler and stage module (tandem.stage_module) must name modules this
// installation has, and their params must fit those modules' schemas, as a run checks them. A
// missing module is a ConfigError at the type's line:column; bad params are the registry's
// ModuleError, which names the JSON path, line:column and the module's file.
void check_modules(const DeepSpeedConfig& config, const ModuleRegistry& registry) {
  struct Block {
    const json::Value* owner;  // the object holding `key`
    const char* key;
    ModuleKind kind;
  };
  const json::Value* tandem = config.tree().find("tandem");
  const Block blocks[] = {Block{&config.tree(), "optimizer", ModuleKind::Optimizer},
                          Block{&config.tree(), "scheduler", ModuleKind::Scheduler},
                          Block{tandem != nullptr && tandem->is_object() ? tandem : nullptr, "stage_module",
                                ModuleKind::Stage}};
  for (const Block& b : blocks) {
    const json::Value* block = b.owner != nullptr ? b.owner->find(b.key) : nullptr;
    if (block == nullptr) continue;
    const json::Value* type = block->is_object() ? block->find("type") : block;  // a stage module may be a name
    if (type == nullptr || !type->is_string()) continue;
    if (type->as_string().find('/') != std::string::npos)  // modules are found by name on the search path only
      throw ConfigError(config.source(), type->position(), type->path(),
                        "'" + type->as_string() + "' is a path: the type is a module's name (put the " +
                            std::string(kind_name(b.kind)) + " module's file in a --module-path directory and "
                            "give its name)");
    const ModuleInfo* module = nullptr;
    try {
      std::string wanted = type->as_string();  // as spelled, for the message when there is no such module
      if (b.kind == ModuleKind::Optimizer) {
        // DeepSpeed's names (engine/optimizer_module: "Adam" is adamw, "OneBitAdam" is refused) and its
        // rule for untested optimizers under ZeRO, as a run applies them.
        const std::string module_name =
            optimizer_module_name(wanted, registry, config.source(), type->position(), type->path());
        if (module_name != canonical_module_name(wanted)) wanted = module_name;
        const json::Value* allow = config.tree().find("zero_allow_untested_optimizer");
        const std::string warning = check_untested_zero_optimizer(
            type->as_string(), config.zero_stage().value_or(0), allow != nullptr && allow->is_bool() && allow->as_bool(),
            config.source(), type->position(), type->path());
        if (!warning.empty()) std::cerr << "warning: " << config.source() << ": " << warning << "\n";
      }
      module = &registry.get(b.kind, wanted);
    } catch (const ModuleError& e) {
      throw ConfigError(config.source(), type->position(), type->path(), e.what());
    }
    // An "auto" is present (a run resolves it); everything else must fit the module's schema.
    loader::bind_params(registry.open(*module), block->is_object() ? block->find("params") : nullptr, config.source(),
                        std::string(kind_name(b.kind)) + " module '" + module->name + "' from '" +
                            module->file.string() + "'",
                        /*autos_pending=*/true);
  }
}

int check(const Args& args) {
  std::vector<std::string> files, dirs;
  po::options_description options("tandem config check");
  add_module_path_option(options, dirs);
  options.add_options()("file", po::value(&files), "config files");
  po::positional_options_description positional;
  positional.add("file", -1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kCheckUsage)) return kExitOk;
  if (files.empty()) throw UsageError(std::string("no config file given\n") + kCheckUsage);

  ModuleRegistry registry;
  registry.scan(ModuleRegistry::default_search_path(to_paths(dirs)));
  warn_about_modules_that_died_loading(registry, std::cerr);
  int status = kExitOk;
  for (const std::string& file : files) {
    try {
      const DeepSpeedConfig config = load_config_file(file);
      for (const ConfigIssue& w : config.warnings()) std::cerr << "warning: " << w.to_string() << "\n";
      // check reads a config as DeepSpeed does (no zero_optimization: stage 0); a run takes it through
      // a plugin, as Accelerate does, and refuses it.
      if (std::optional<ConfigIssue> why = plugin_rules::refusal(config))
        std::cerr << "warning: " << why->to_string() << " (DeepSpeed alone runs it at stage 0; tandem train, "
                  << "distill and Accelerator::prepare refuse it)\n";
      check_modules(config, registry);
      std::vector<std::string> autos;
      collect_autos(config.tree(), autos);
      std::cout << file << ": ok";
      if (!autos.empty()) {
        std::cout << "; " << autos.size() << " \"auto\" value" << (autos.size() == 1 ? "" : "s")
                  << " resolved when a run prepares (from the run's batch, steps and lr; `tandem config explain " << file
                  << "` shows each value and why):";
        for (const std::string& path : autos) std::cout << "\n  " << path;
      }
      std::cout << "\n";
    } catch (const ConfigError& e) {
      std::cerr << e.what() << "\n";
      status = kExitBadInput;
    } catch (const ModuleError& e) {
      std::cerr << e.what() << "\n";
      status = kExitBadInput;
    }
  }
  return status;
}

json::Value resolution_json(const ResolvedConfig& resolved) {
  json::Value autos = json::Value::array();
  for (const AutoResolution& r : resolved.resolutions) {
    json::Value entry = json::Value::object();
    entry.set("path", json::Value::string(r.path));
    entry.set("at", json::Value::string(json::where(r.source, r.position)));
    entry.set("value", r.value);
    entry.set("why", json::Value::string(r.why));
    autos.push_back(std::move(entry));
  }
  json::Value derived = json::Value::array();
  for (const Derivation& d : resolved.derived) {
    json::Value entry = json::Value::object();
    entry.set("path", json::Value::string(d.path));
    entry.set("value", d.value);
    entry.set("why", json::Value::string(d.why));
    derived.push_back(std::move(entry));
  }
  json::Value out = json::Value::object();
  out.set("config", resolved.tree);
  out.set("auto", std::move(autos));
  out.set("derived", std::move(derived));
  return out;
}

int explain(const Args& args) {
  std::string file, format;
  std::vector<std::string> dirs;
  po::options_description options("tandem config explain");
  add_module_path_option(options, dirs);
  add_run_fact_options(options);
  options.add_options()("format", po::value(&format)->default_value("text"), "text, or json (one object)")(
      "file", po::value(&file), "the config file");
  po::positional_options_description positional;
  positional.add("file", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kExplainUsage)) return kExitOk;
  if (file.empty()) throw UsageError(std::string("no config file given\n") + kExplainUsage);
  if (format != "text" && format != "json") throw UsageError("--format must be text or json, not '" + format + "'");

  const RunFacts facts = read_run_facts(vm, dirs);
  DeepSpeedConfig config = load_config_file(file);
  {  // what `config check` refuses, explain refuses too: it must not explain a config no run accepts
    ModuleRegistry registry;
    registry.scan(ModuleRegistry::default_search_path(to_paths(dirs)));
    check_modules(config, registry);
  }
  PluginSet plugins;
  plugins.add("explained", DeepSpeedPlugin(std::move(config)));
  State::reset();
  Accelerator accelerator(std::move(plugins), facts.accelerator);
  const Prepared prepared = accelerator.prepare(facts.prepare);
  const ResolvedConfig& resolved = prepared.config();
  for (const ConfigIssue& w : resolved.warnings) std::cerr << "warning: " << w.to_string() << "\n";

  if (format == "json") {
    std::cout << json::to_string(resolution_json(resolved), true) << "\n";
    return kExitOk;
  }
  std::cout << json::to_string(resolved.tree, true) << "\n\n";
  std::cout << (resolved.resolutions.empty() ? "no \"auto\" values\n" : "\"auto\" values:\n");
  for (const AutoResolution& r : resolved.resolutions)
    std::cout << "  " << r.path << " = " << json::to_string(r.value) << "\n      " << r.why << " ("
              << json::where(r.source, r.position) << ")\n";
  if (!resolved.derived.empty()) {
    std::cout << "derived:\n";
    for (const Derivation& d : resolved.derived)
      std::cout << "  " << d.path << " = " << json::to_string(d.value) << "\n      " << d.why << "\n";
  }
  return kExitOk;
}

}  // namespace

int run_config(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kCheckUsage << "\n\n" << kExplainUsage << "\n";
    return args.empty() ? kExitBadInput : kExitOk;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "check") return check(rest);
  if (args[0] == "explain") return explain(rest);
  throw UsageError("unknown config command '" + args[0] + "' (check or explain)");
}

}  // namespace tandem::cli
