// `tandem tokenize IN.txt OUT.bin`: a text file to llm.c token files (data::tokenize_text_file).
#include <cstdio>
#include <iostream>

#include "cli/cli.hpp"
#include "tandem/data.hpp"

namespace tandem::cli {

int run_tokenize(const Args& args) {
  constexpr const char* kUsage =
      "usage: tandem tokenize IN.txt OUT.bin [--tokenizer DIR|FILE] [--val-fraction F] [--force]\n"
      "Encodes the UTF-8 text IN.txt and writes llm.c's token file OUT.bin (a header of 256 int32: magic\n"
      "20240520, version 1, the token count; then uint16 tokens), which `tandem train` reads as data.\n"
      "The text is one document: the tokenizer's <|endoftext|> comes first where it has one.\n"
      "--tokenizer: a Hugging Face tokenizer.json of a byte-level BPE model, or a directory holding\n"
      "tokenizer.json or GPT-2's encoder.json and vocab.bpe; without it, one token per byte (vocab 256).\n"
      "--val-fraction F: the last F of the tokens go to OUT_val.bin (OUT_train.bin: OUT_val.bin) instead.\n"
      "An existing output is replaced only with --force; the input never is.";
  data::TokenizeRequest request;
  std::string input, output, tokenizer;
  po::options_description options("tandem tokenize");
  options.add_options()("tokenizer", po::value(&tokenizer), "tokenizer.json, or a directory with it or with GPT-2's files")(
      "val-fraction", po::value(&request.val_fraction)->default_value(0.0), "share of the tokens for OUT_val.bin, in [0, 1)")(
      "force", po::bool_switch(&request.force), "replace outputs that exist")(
      "input", po::value(&input), "the text file")("output", po::value(&output), "the token file to write");
  po::positional_options_description positional;
  positional.add("input", 1).add("output", 1);
  po::variables_map vm;
  if (!parse(args, options, positional, vm, kUsage)) return kExitOk;
  if (input.empty() || output.empty()) throw UsageError(std::string("IN.txt and OUT.bin are both needed\n") + kUsage);
  request.input = input;
  request.output = output;
  request.tokenizer = tokenizer;
  const data::TokenizeResult r = data::tokenize_text_file(request);
  std::cout << input << ": " << r.input_bytes << " bytes -> " << (r.train_tokens + r.val_tokens) << " tokens ("
            << r.tokenizer << ", vocab " << r.vocab_size << ")";
  if (r.seconds > 0) {
    char rate[64];
    std::snprintf(rate, sizeof rate, ", %.2f MB/s", static_cast<double>(r.input_bytes) / r.seconds / 1e6);
    std::cout << rate;
  }
  std::cout << "\n  " << r.output.string() << ": " << r.train_tokens << " tokens\n";
  if (!r.val_output.empty()) std::cout << "  " << r.val_output.string() << ": " << r.val_tokens << " tokens\n";
  return kExitOk;
}

}  // namespace tandem::cli
