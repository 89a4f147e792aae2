// `tandem generate MODEL --prompt-ids 15496,995 [...]`: tokens from a trained model (tandem/generate.hpp),
// loaded as tandem/inference.hpp says. The new token ids go to stdout, one line, comma-separated; where
// the weights and the shape came from, and whether the KV cache ran, to stderr.
#include <iostream>
#include <sstream>

#include "cli/cli.hpp"
#include "tandem/generate.hpp"

namespace tandem::cli {

namespace {

constexpr const char* kUsage =
    "usage: tandem generate MODEL --prompt-ids ID,ID,... [--max-new-tokens N] [--temperature T]\n"
    "           [--top-k K] [--top-p P] [--seed S] [--no-kv-cache] [--model JSON] [--module-path DIR]\n"
    "MODEL is a tandem checkpoint (a step-N directory or a checkpoint_dir: any ZeRO stage, any world size),\n"
    "a safetensors file (tandem's, or Hugging Face GPT-2's), or a directory with model.safetensors and\n"
    "config.json (what `tandem checkpoint export` writes). The model's shape comes from --model, else a\n"
    "config.json beside the weights, else the run file the checkpoint's trainer.json names.\n"
    "Sampling, in this order: logits / temperature (0: greedy, the most likely token); the top-k most likely\n"
    "(0: all); the smallest set of those whose probability reaches top-p (1: all); one draw. The same seed\n"
    "gives the same tokens. The prompt goes through the model once and each new token alone, with the\n"
    "model's KV cache (SDK 1.4); a module without one, or --no-kv-cache, runs the whole sequence each step,\n"
    "with the same tokens. prompt + max-new-tokens must fit the model's block_size.\n"
    "Prints the new token ids, comma-separated, on one line.";

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream list(text);
  for (std::string t; std::getline(list, t, ',');) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != t.size() || v < 0 || v > INT32_MAX)
      throw UsageError("--prompt-ids: '" + t + "' is not a token id (comma-separated integers >= 0, e.g. 15496,995)");
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) throw UsageError("--prompt-ids is empty: give at least one token id");
  return ids;
}

}  // namespace

int run_generate(const Args& args) {
  std::string source, prompt_ids;
  InferenceFlags flags;
  GenerateOptions g;
  po::options_description options("tandem generate");
  options.add_options()("source", po::value(&source), "MODEL")(
      "prompt-ids", po::value(&prompt_ids), "the prompt as token ids, comma-separated")(
      "max-new-tokens", po::value(&g.max_new_tokens)->default_value(32), "tokens to generate")(
      "temperature", po::value(&g.sampling.temperature)->default_value(1.0), "0: greedy")(
      "top-k", po::value(&g.sampling.top_k)->default_value(0), "keep the k most likely (0: all)")(
      "top-p", po::value(&g.sampling.top_p)->default_value(1.0), "keep the smallest set with this mass (1: all)")(
      "seed", po::value(&g.sampling.seed)->default_value(1234), "the draws' seed")(
      "no-kv-cache", "run the whole sequence at every step (what a model without a cache does)");
  add_inference_options(options, flags);
  po::positional_options_description positional;
  positional.add("source", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (source.empty()) throw UsageError(std::string("need MODEL\n") + kUsage);
  if (prompt_ids.empty()) throw UsageError("need --prompt-ids (text prompts come with the GPT-2 tokenizer)");
  const std::vector<int32_t> prompt = parse_ids(prompt_ids);
  g.kv_cache = vm.count("no-kv-cache") == 0;
  try {
    check_sampling_options(g.sampling);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  InferenceModel model = load_inference_model(source, flags);
  const Generated out = generate(model.engine(), prompt, g);
  std::cerr << "tandem generate: weights " << model.weights_from() << ", shape from " << model.spec_from() << "; "
            << out.tokens.size() << " tokens "
            << (out.used_kv_cache ? "with the model's KV cache"
                                  : g.kv_cache ? "without a KV cache (the model has none here: full forward each step)"
                                               : "without a KV cache (--no-kv-cache)")
            << "\n";
  for (size_t i = 0; i < out.tokens.size(); ++i) std::cout << (i ? "," : "") << out.tokens[i];
  std::cout << "\n";
  return kExitOk;
}

}  // namespace tandem::cli
