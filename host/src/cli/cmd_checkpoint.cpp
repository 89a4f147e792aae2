// `tandem checkpoint consolidate DIR OUT.safetensors`: one full fp32 model from an engine checkpoint
// (see tandem/checkpoint.hpp); `tandem checkpoint inspect DIR [--json]`: what checkpoints hold, each
// verified (tandem/checkpoint_inspect.hpp).
#include <iostream>

#include "cli/cli.hpp"
#include "io/human_size.hpp"
#include "tandem/checkpoint.hpp"
#include "tandem/checkpoint_inspect.hpp"
#include "tandem/export_hf.hpp"

namespace tandem::cli {

namespace {

constexpr const char* kUsage =
    "usage: tandem checkpoint consolidate DIR OUT.safetensors [--overwrite]\n"
    "       tandem checkpoint inspect DIR [--json]\n"
    "       tandem checkpoint export DIR OUT/ [--dtype fp32|bf16] [--force] [--model JSON]\n"
    "export: a Hugging Face GPT-2 directory that GPT2LMHeadModel.from_pretrained(OUT) loads with the same\n"
    "logits: model.safetensors (GPT2LMHeadModel's names and Conv1D layout, fp32 or bf16, the head tied to\n"
    "wte), config.json (a GPT2Config: gelu_new, layer_norm_epsilon 1e-5, tie_word_embeddings) and the\n"
    "tokenizer files found beside the weights. DIR is a checkpoint (any ZeRO stage and world size: its\n"
    "fp32 master weights), a checkpoint_dir, or a safetensors file; the shape as for `tandem generate`.\n"
    "OUT must not exist or be empty; --force writes into an existing one, replacing only those files.\n"
    "A model that is not the gpt module's is refused.\n"
    "inspect: what each checkpoint in DIR holds (models, ZeRO stage, world size, step, data position,\n"
    "sizes) and whether it is whole: its manifest's checksums, its layout, every rank shard gathered.\n"
    "DIR is a checkpoint (step-N), a checkpoint_dir, or the checkpoint_dir of a run of several models.\n"
    "Exit 0 when every checkpoint is whole, 1 naming each damaged one, 2 when DIR holds none.\n"
    "consolidate:"
    "Writes one safetensors file with every parameter in fp32, rebuilt from the ranks' fp32 master shards\n"
    "of an engine checkpoint (any ZeRO stage, any world size) with the layout it records. DIR is a\n"
    "checkpoint (engine.json, model.safetensors, rank<R>.safetensors) or a checkpoint_dir with `latest`.\n"
    "An existing OUT is replaced only with --overwrite, and only when it is a regular file that is not\n"
    "one of the checkpoint's own.";

int consolidate(const Args& args) {
  std::vector<std::string> paths;
  po::options_description options("tandem checkpoint consolidate");
  options.add_options()("path", po::value(&paths), "DIR and OUT.safetensors")(
      "overwrite", "replace an existing OUT (a regular file)");
  po::positional_options_description positional;
  positional.add("path", 2);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (paths.size() != 2) throw UsageError(std::string("need DIR and OUT.safetensors\n") + kUsage);
  try {
    const ConsolidateReport r = consolidate_checkpoint(paths[0], paths[1], vm.count("overwrite") > 0);
    std::cout << paths[1] << ": " << r.tensors << " tensors, " << r.parameters << " parameters in fp32, "
              << (r.from_shards ? "rebuilt from the master shards of " + std::to_string(r.world_size) +
                                      " ranks under ZeRO-" + std::to_string(r.stage)
                                : std::string("copied from model.safetensors (the checkpoint has no optimizer state)"))
              << "\n";
  } catch (const CheckpointError& e) {
    throw UsageError(e.what());
  } catch (const std::invalid_argument& e) {  // OUT refused before anything was read
    throw UsageError(e.what());
  }
  return kExitOk;
}

int export_to_hf(const Args& args) {
  std::vector<std::string> paths;
  std::string dtype = "fp32";
  InferenceFlags flags;
  po::options_description options("tandem checkpoint export");
  options.add_options()("path", po::value(&paths), "DIR and OUT")(
      "dtype", po::value(&dtype)->default_value("fp32"), "fp32 or bf16 (rounded to nearest even)")(
      "force", "write into an existing, non-empty OUT (only the exported files are replaced)");
  add_inference_options(options, flags);
  po::positional_options_description positional;
  positional.add("path", 2);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (paths.size() != 2) throw UsageError(std::string("need DIR and OUT\n") + kUsage);
  if (dtype != "fp32" && dtype != "bf16") throw UsageError("--dtype must be fp32 or bf16, not '" + dtype + "'");
  const bool force = vm.count("force") > 0;
  check_export_directory(paths[1], force);  // before the model is loaded (which can take a while)
  InferenceModel model = load_inference_model(paths[0], flags);
  const ExportReport r =
      export_hugging_face(model, paths[0], paths[1], dtype == "bf16" ? ExportDtype::bf16 : ExportDtype::f32, force);
  std::cout << paths[1] << ": " << r.tensors << " tensors, " << r.parameters << " parameters in " << dtype
            << " from " << model.weights_from() << ":";
  for (const std::string& f : r.files) std::cout << " " << f;
  std::cout << "\n";
  return kExitOk;
}

std::string text_of(const json::Value* v) {
  if (v == nullptr || v->is_null()) return "?";
  return v->is_string() ? v->as_string() : json::to_string(*v);
}

// One checkpoint, for a person: what `--json` says, in lines.
void print_checkpoint(const json::Value& c) {
  auto f = [&](const char* key) { return text_of(c.find(key)); };
  const bool whole = c.find("whole")->as_bool();
  std::cout << f("path") << (c.find("model") ? " (model " + f("model") + ")" : "") << ": "
            << (whole ? "whole" : "DAMAGED: " + f("damage")) << "\n";
  if (c.find("stage") == nullptr) return;
  std::cout << "  engine \"" << f("engine") << "\", format version " << f("version") << ": ZeRO-" << f("stage")
            << ", world size " << f("world_size") << ", step " << f("global_steps") << " (" << f("taken_steps")
            << " taken, " << f("skipped_steps") << " skipped, " << f("micro_steps") << " micro-steps)\n";
  if (c.find("tensors") == nullptr) return;
  std::cout << "  model: " << f("tensors") << " tensors, " << f("parameters") << " parameters (fp32)\n";
  std::cout << "  optimizer groups:";
  const json::Value& groups = *c.find("groups");
  for (size_t g = 0; g < groups.items().size(); ++g)
    std::cout << (g ? "," : "") << " " << g << ": " << text_of(groups.items()[g].find("numel")) << " elements (padded to "
              << text_of(groups.items()[g].find("padded")) << ")";
  std::cout << "\n";
  if (const json::Value* names = c.find("optimizer_state")) {
    std::string list;
    for (const json::Value& n : names->items()) list += (list.empty() ? "" : ", ") + n.as_string();
    std::cout << "  optimizer state: " << (list.empty() ? "none (forward only: weights alone)" : list)
              << (c.find("scheduler") && c.find("scheduler")->as_bool() ? "; scheduler state" : "") << "\n";
  }
  if (const json::Value* d = c.find("data"); d != nullptr && !d->is_null()) {
    auto g = [&](const char* key) { return text_of(d->find(key)); };
    std::cout << "  data: epoch " << g("epoch") << ", step " << g("step") << " (world size " << g("world_size")
              << " x micro_batch " << g("micro_batch") << " rows of " << g("block_size") << " tokens, seed "
              << g("seed") << ", " << g("train_tokens") << " training tokens)\n";
  } else if (c.find("data") != nullptr) {
    std::cout << "  data: no position (written by Engine::save, not a run)\n";
  }
  if (const json::Value* files = c.find("files")) {
    std::cout << "  files (" << io::human_size(static_cast<uint64_t>(c.find("bytes")->as_int())) << "):";
    for (const json::Value& file : files->items())
      std::cout << " " << file.find("name")->as_string() << " "
                << io::human_size(static_cast<uint64_t>(file.find("size")->as_int())) << ";";
    std::cout << "\n";
  }
}

int inspect(const Args& args) {
  std::string dir;
  po::options_description options("tandem checkpoint inspect");
  options.add_options()("dir", po::value(&dir), "a checkpoint or checkpoint_dir")(
      "json", "one JSON object instead of lines (tandem/checkpoint_inspect.hpp lists its keys)");
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (dir.empty()) throw UsageError(std::string("need DIR\n") + kUsage);
  const json::Value report = inspect_checkpoints(dir);  // std::invalid_argument: nothing to inspect, exit 2
  const bool whole = report.find("whole")->as_bool();
  if (vm.count("json") > 0) {
    std::cout << json::to_string(report, true) << "\n";
  } else {
    for (const json::Value& c : report.find("checkpoints")->items()) print_checkpoint(c);
  }
  if (!whole)
    for (const json::Value& c : report.find("checkpoints")->items())
      if (!c.find("whole")->as_bool())
        std::cerr << "tandem checkpoint inspect: " << text_of(c.find("path")) << " is damaged: " << text_of(c.find("damage"))
                  << "\n";
  return whole ? kExitOk : kExitFailed;
}

}  // namespace

int run_checkpoint(const Args& args) {
  if (args.empty() ||
      (args[0] != "consolidate" && args[0] != "inspect" && args[0] != "export" && args[0] != "--help" &&
       args[0] != "-h"))
    throw UsageError(std::string("unknown or missing subcommand\n") + kUsage);
  if (args[0] == "consolidate") return consolidate(Args(args.begin() + 1, args.end()));
  if (args[0] == "inspect") return inspect(Args(args.begin() + 1, args.end()));
  if (args[0] == "export") return export_to_hf(Args(args.begin() + 1, args.end()));
  std::cout << kUsage << "\n";
  return kExitOk;
}

}  // namespace tandem::cli
