// Data given as shards (llm.c's "fineweb_train_*.bin") and the check of the model's vocabulary
// against the data (tandem/data.hpp).
#include <fnmatch.h>

#include <algorithm>
#include <system_error>

#include "tandem/data.hpp"

namespace tandem::data {

namespace {

namespace fs = std::filesystem;

bool has_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

std::vector<fs::path> expand_shards(const fs::path& pattern, const std::string& key) {
  const std::string name = pattern.filename().string();
  if (has_glob(pattern.parent_path().string()))
    throw DataError(pattern.string(), key + ": a glob may only be in the file name, not in its directories");
  if (!has_glob(name)) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(pattern, ec))) throw DataError(pattern.string(), "no such file (" + key + ")");
    return {pattern};
  }
  const fs::path dir = pattern.parent_path().empty() ? fs::path(".") : pattern.parent_path();
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw DataError(dir.string(), key + ": cannot list the directory of " + pattern.string() + ": " + ec.message());
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : it)
    if (::fnmatch(name.c_str(), e.path().filename().c_str(), FNM_PERIOD) == 0) files.push_back(e.path());
  if (files.empty())
    throw DataError(pattern.string(), key + ": the glob matches no file in " + dir.string() +
                                          " (make the shards first, e.g. with tandem tokenize, or fix the pattern)");
  // By name, as llm.c's glob.glob + sorted: shard 000001 before 000002.
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

Tokens load_token_shards(const std::vector<fs::path>& files, uint32_t vocab_size, TokenFormat format) {
  if (files.empty()) throw DataError("", "no data files");
  Tokens all = load_tokens(files.front(), vocab_size, format);
  for (size_t i = 1; i < files.size(); ++i) {
    const Tokens shard = load_tokens(files[i], vocab_size, format);
    all.ids.insert(all.ids.end(), shard.ids.begin(), shard.ids.end());
  }
  if (files.size() > 1)
    all.source = files.front().string() + " ... " + files.back().filename().string() + " (" +
                 std::to_string(files.size()) + " files)";
  return all;
}

std::string vocab_size_warning(uint32_t vocab_size, const Tokens& tokens) {
  if (tokens.ids.empty()) return "";
  if (tokens.format == TokenFormat::Text && vocab_size == kByteVocab) return "";
  const uint32_t needed = uint32_t{*std::max_element(tokens.ids.begin(), tokens.ids.end())} + 1;
  if (vocab_size <= 2 * uint64_t{needed}) return "";
  return tokens.source + ": the model's vocab_size " + std::to_string(vocab_size) +
         " is more than twice what the data uses (its largest token id is " + std::to_string(needed - 1) +
         "): most of the embedding is never trained. Was the data made with another tokenizer (" +
         std::string(format_name(tokens.format)) +
         " data; byte-level text needs 256, GPT-2's tokenizer 50257)? Tokenize it with the model's tokenizer "
         "(tandem tokenize --tokenizer) or set the model's vocab_size to fit";
}

}  // namespace tandem::data
