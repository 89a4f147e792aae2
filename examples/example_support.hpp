// What the two examples share and Accelerate gets from PyTorch: a byte-level corpus cut into
// per-rank batches (the DataLoader of the seed's loops), the tiny GPTs, and `--key value` arguments.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tandem/data.hpp"
#include "tandem/engine.hpp"

namespace example {

// --key value pairs, with defaults; an unknown key is an error listing the known ones.
class Args {
 public:
  Args(int argc, char** argv, std::map<std::string, std::string> defaults) : values_(std::move(defaults)) {
    for (int i = 1; i < argc; ++i) {
      const std::string key = argv[i];
      if (key == "--help" || key == "-h" || key.rfind("--", 0) != 0 || !values_.count(key.substr(2)) || i + 1 >= argc)
        usage(argv[0], key == "--help" || key == "-h" ? "" : "bad argument '" + key + "'");
      values_[key.substr(2)] = argv[++i];
    }
  }
  const std::string& text(const std::string& key) const { return values_.at(key); }
  int64_t integer(const std::string& key) const { return std::stoll(values_.at(key)); }
  double number(const std::string& key) const { return std::stod(values_.at(key)); }

 private:
  [[noreturn]] void usage(const char* program, const std::string& error) const {
    std::ostream& out = error.empty() ? std::cout : std::cerr;
    if (!error.empty()) out << program << ": " << error << "\n";
    out << "usage: " << program;
    for (const auto& [key, value] : values_) out << " [--" << key << " " << (value.empty() ? "\"\"" : value) << "]";
    out << "\n";
    std::exit(error.empty() ? 0 : 2);
  }
  std::map<std::string, std::string> values_;
};

// A byte-level GPT of `layers` x `width` over 256 tokens and `block` positions.
inline tandem::ModelSpec gpt(int layers, int width, int block, uint64_t seed) {
  tandem::ModelSpec m;
  m.type = "gpt";
  m.params = tandem::json::parse(R"({"n_layer": )" + std::to_string(layers) + R"(, "n_head": 4, "n_embd": )" +
                                 std::to_string(width) + R"(, "vocab_size": 256, "block_size": )" +
                                 std::to_string(block) + "}")
                 .root;
  m.seed = seed;
  return m;
}

// One loader per rank over the corpus: "kjv" (made in cache_dir) or a text file.
inline std::vector<tandem::data::DataLoader> loaders(const std::string& corpus, const std::filesystem::path& cache_dir,
                                                     int64_t ranks, int64_t seq, int64_t micro_batch, uint64_t seed) {
  const std::filesystem::path file = corpus == "kjv" ? tandem::data::kjv_text(cache_dir) : std::filesystem::path(corpus);
  auto tokens = std::make_shared<const tandem::data::Tokens>(tandem::data::load_tokens(file, 256));
  std::vector<tandem::data::DataLoader> out;
  for (int64_t r = 0; r < ranks; ++r)
    out.emplace_back(tokens, tandem::data::LoaderConfig{seq, micro_batch, static_cast<int>(r), static_cast<int>(ranks),
                                                        seed, 0.05});
  return out;
}

inline tandem::TokenBatch to_batch(tandem::data::Batch b) {
  return tandem::TokenBatch{std::move(b.inputs), std::move(b.targets), b.batch, b.block};
}

// The first `count` validation batches of every rank, one step per entry.
inline std::vector<std::vector<tandem::TokenBatch>> validation(const std::vector<tandem::data::DataLoader>& ranks,
                                                               uint64_t count) {
  std::vector<std::vector<tandem::TokenBatch>> out;
  for (uint64_t i = 0; i < std::min(count, ranks.front().val_batches()); ++i) {
    std::vector<tandem::TokenBatch> step;
    for (const auto& l : ranks) {
      tandem::data::Batch b;
      l.val_batch(i, b);
      step.push_back(to_batch(std::move(b)));
    }
    out.push_back(std::move(step));
  }
  return out;
}

}  // namespace example
