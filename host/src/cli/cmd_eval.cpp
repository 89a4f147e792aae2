// `tandem eval MODEL --data FILE [--batch N] [--seq T]`: mean cross-entropy and perplexity of a model
// (loaded as tandem/inference.hpp says) over a token file, windowed as tandem/eval.hpp says.
#include <iomanip>
#include <iostream>

#include "cli/cli.hpp"
#include "tandem/data.hpp"
#include "tandem/eval.hpp"

namespace tandem::cli {

namespace {

constexpr const char* kUsage =
    "usage: tandem eval MODEL --data FILE [--batch N] [--seq T] [--format auto|text|llmc|raw] [--model JSON]\n"
    "MODEL as for `tandem generate` (a checkpoint of any ZeRO stage and world size, a safetensors file, or\n"
    "an exported directory). FILE: a text file (byte tokens), an llm.c .bin or raw uint16 tokens, as a run\n"
    "file's data. The rule: FILE's n tokens are cut into windows of T + 1 tokens starting every T tokens\n"
    "(T inputs and, shifted by one, T targets; the training data's windows), floor((n - 1) / T) of them;\n"
    "tokens after the last whole window are not scored; each window is scored on its own, N at a time.\n"
    "Prints the mean cross-entropy over every target token (nats) and its exp, the perplexity.\n"
    "T defaults to the model's block_size.";

data::TokenFormat format_of(const std::string& name) {
  if (name == "auto") return data::TokenFormat::Auto;
  if (name == "text") return data::TokenFormat::Text;
  if (name == "llmc") return data::TokenFormat::LlmC;
  if (name == "raw") return data::TokenFormat::Raw;
  throw UsageError("--format must be auto, text, llmc or raw, not '" + name + "'");
}

}  // namespace

int run_eval(const Args& args) {
  std::string source, data_path, format = "auto";
  int64_t batch = 8, seq = 0;
  InferenceFlags flags;
  po::options_description options("tandem eval");
  options.add_options()("source", po::value(&source), "MODEL")("data", po::value(&data_path), "the token file")(
      "batch", po::value(&batch)->default_value(8), "windows per forward")(
      "seq", po::value(&seq), "tokens per window (default: the model's block_size)")(
      "format", po::value(&format)->default_value("auto"), "auto, text, llmc or raw");
  add_inference_options(options, flags);
  po::positional_options_description positional;
  positional.add("source", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (source.empty()) throw UsageError(std::string("need MODEL\n") + kUsage);
  if (data_path.empty()) throw UsageError(std::string("need --data FILE\n") + kUsage);
  const data::TokenFormat fmt = format_of(format);
  if (!std::filesystem::exists(data_path)) throw data::DataError(data_path, "no such file (--data)");
  InferenceModel model = load_inference_model(source, flags);
  Engine& engine = model.engine();
  const data::Tokens tokens = data::load_tokens(data_path, static_cast<uint32_t>(engine.vocab_size()), fmt);
  if (vm.count("seq") == 0) seq = engine.max_sequence();
  const EvalResult r = evaluate_stream(engine, tokens.ids, batch, seq);
  std::cerr << "tandem eval: weights " << model.weights_from() << ", shape from " << model.spec_from() << "\n";
  std::cout << std::setprecision(6) << data_path << ": loss " << r.loss << " nats/token, perplexity " << r.perplexity
            << " (" << r.tokens << " tokens in " << r.windows << " windows of " << seq << ", "
            << data::format_name(tokens.format) << ")\n";
  return kExitOk;
}

}  // namespace tandem::cli
