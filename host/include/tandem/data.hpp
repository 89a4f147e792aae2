// Training data: token files, the default corpus, and the loader that cuts a token stream into
// shuffled, per-rank batches with a held-out validation split.
//
// Token files. Three formats, all read whole into memory as uint16 token ids:
//   - Text: any other file, tokenized byte-level: each byte is one token (vocab 256). A NUL byte is
//     refused (a binary file passed as text is the usual cause).
//   - llm.c (the common ".bin" layout of karpathy/llm.c's dev/data): a header of 256 little-endian
//     int32 (magic 20240520, version 1, token count, the rest unused), then `count` uint16 tokens.
//   - Raw: a headerless stream of little-endian uint16 tokens (numpy's tokens.astype(uint16).tofile).
// TokenFormat::Auto tells them apart as follows: a name ending in ".bin" is a token file, anything
// else is text; a token file whose first 4 bytes are the llm.c magic is llm.c (and must then be a
// valid one: a wrong version or a count that does not match the size is an error, never a fallback),
// otherwise raw. A raw file whose first two tokens happen to be 55368, 308 (the magic's two halves)
// would be taken for llm.c and refused loudly; name the format explicitly for such data.
// llm.c's uint32 layout (magic 20240801, Llama 3) is recognised and refused as unsupported.
//
// The default corpus is the King James Bible of Debian's bible-kjv packages (kjv_text below).
//
// Windows, shuffling, shards (DataLoader). The stream of n tokens is split once: the first
// n - floor(n * val_fraction) tokens are the training split, the rest the validation split (or, with
// LoaderConfig::val_from, a separate validation file appended to the training stream starts there). Each
// split is cut into windows of T + 1 tokens starting every T tokens (window w covers tokens
// [w*T, w*T + T] of its split: T inputs and, shifted by one, T next-token targets). No window crosses
// the split point, so no training window shares a token with a validation window. Each epoch's order
// of the training windows is a Fisher-Yates shuffle driven by SplitMix64 (both defined here, not by
// std::shuffle, whose algorithm the standard leaves open), seeded from (seed, epoch). Rank r of W
// takes the windows at positions r, r+W, r+2W, ... of that order; its batch s holds the rank's
// windows s*B .. s*B+B-1. Every rank runs the same number of steps per epoch,
// floor(train_windows / (B*W)) (collectives need that); the windows left over, at most B*W - 1, sit
// out that epoch, and other ones sit out the next since the order changes. Validation is fixed: the
// validation windows in stream order, dealt to ranks the same way, no shuffle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/json.hpp"

namespace tandem::data {

// A bad data file or loader setting. what() reads "<file>: <reason>" (or just the reason when no file
// is concerned).
class DataError : public std::runtime_error {
 public:
  DataError(std::string file, std::string reason);
  const std::string& file() const { return file_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  std::string reason_;
};

// ---- Token files ---------------------------------------------------------------------------------

enum class TokenFormat { Auto, Text, LlmC, Raw };

inline constexpr int32_t kLlmcMagic = 20240520;        // llm.c, uint16 tokens (GPT-2)
inline constexpr int32_t kLlmcVersion = 1;
inline constexpr int32_t kLlmcMagicUint32 = 20240801;  // llm.c, uint32 tokens (Llama 3): refused
inline constexpr size_t kLlmcHeaderBytes = 256 * 4;
inline constexpr uint32_t kByteVocab = 256;

struct Tokens {
  std::vector<uint16_t> ids;
  std::string source;                       // the file they came from
  TokenFormat format = TokenFormat::Text;   // the format actually read (never Auto)
  // > 0: a separate validation file was appended to the training tokens and begins here (a run's
  // data.val); the loader takes it as LoaderConfig::val_from.
  uint64_t val_from = 0;
};

// Reads a token file and checks every token against the model's vocabulary: a token >= vocab_size is
// an error naming the file, the token, its position and the vocabulary size. Errors (DataError, naming
// the file): missing, not a regular file, empty, unreadable, text with a NUL byte, odd byte count for a
// raw file, llm.c header with a wrong magic/version, a count that does not match the file size, or no
// tokens.
Tokens load_tokens(const std::filesystem::path& path, uint32_t vocab_size, TokenFormat format = TokenFormat::Auto);

// Writes tokens in the llm.c layout, atomically (temporary file + rename). An empty list, or one of
// more than 2^31 - 1 tokens (the header's int32 count), is an error.
void write_llmc_tokens(const std::filesystem::path& path, std::span<const uint16_t> tokens);

// Byte-level tokenization of a text file into an llm.c token file (vocab 256): load_tokens(text,
// kByteVocab, Text) then write_llmc_tokens(bin).
void text_to_token_file(const std::filesystem::path& text, const std::filesystem::path& bin);

// "text", "llm.c", "raw uint16".
std::string_view format_name(TokenFormat f);

// ---- Shards and the vocabulary check -------------------------------------------------------------

// The files a data entry names: the path itself, or, when its file name holds a glob (*, ? or [...],
// as llm.c's "fineweb_train_*.bin"), the regular files of its directory that match, sorted by name.
// DataError naming the pattern when nothing matches, or when a plain path does not exist. `key` names
// the setting for the message ("data.train").
std::vector<std::filesystem::path> expand_shards(const std::filesystem::path& pattern, const std::string& key);

// The shards read in order as one stream (load_tokens on each); source lists them ("a.bin + b.bin", or
// "a_*.bin (3 files)"). A window of the loader may span the end of one shard and the start of the next,
// as it spans two documents within a shard.
Tokens load_token_shards(const std::vector<std::filesystem::path>& files, uint32_t vocab_size,
                         TokenFormat format = TokenFormat::Auto);

// A warning (empty: none) when the model's vocabulary is far larger than the data needs: more than
// twice the largest token id + 1 (a GPT-2-vocabulary model on byte-level text, or data made with
// another tokenizer). Byte-level text under a 256-token vocabulary is what the byte vocabulary is for
// and never warned about. (An id >= vocab_size is load_tokens' error.)
std::string vocab_size_warning(uint32_t vocab_size, const Tokens& tokens);

// ---- Tokenizing text into token files (`tandem tokenize`) ----------------------------------------

struct TokenizeRequest {
  std::filesystem::path input;      // UTF-8 text
  std::filesystem::path output;     // the llm.c token file (the training split when val_fraction > 0)
  // A tokenizer.json, or a directory with tokenizer.json or GPT-2's encoder.json and vocab.bpe
  // (text::Tokenizer::load); empty: byte-level, one token per byte (vocab 256).
  std::filesystem::path tokenizer;
  double val_fraction = 0;          // in [0, 1): the last floor(n * f) tokens go to val_output_for(output)
  bool force = false;               // replace outputs that exist (never the input itself)
};

struct TokenizeResult {
  std::filesystem::path output, val_output;  // val_output empty without a validation split
  uint64_t input_bytes = 0, train_tokens = 0, val_tokens = 0;
  uint32_t vocab_size = 0;
  std::string tokenizer;  // what tokenized: the tokenizer's files, or "bytes"
  double seconds = 0;     // encoding only
};

// llm.c's naming: "x_train.bin" -> "x_val.bin"; any other "x.bin" -> "x_val.bin".
std::filesystem::path val_output_for(const std::filesystem::path& output);

// Encodes `input` and writes llm.c token files (write_llmc_tokens), the whole text as one document:
// a tokenizer's <|endoftext|> first where it has one, as llm.c's data scripts begin each document.
// Outputs that exist are refused unless `force` (the input never: it would be lost), before any work;
// each is written atomically. Errors (DataError, naming the file): input missing, not a regular file
// or empty, not UTF-8 (the byte offset and line), an id over 65535 (llm.c's uint16 tokens), a split
// that leaves either side with no tokens; a tokenizer that cannot be loaded (text::TokenizerError).
TokenizeResult tokenize_text_file(const TokenizeRequest& request);

// ---- The default corpus --------------------------------------------------------------------------

// The King James Bible as produced by `bible -f -p /usr/lib Genesis1:1-Revelation22:21` from Debian's
// packages bible-kjv (the program) and bible-kjv-text (its compressed data, /usr/lib/bible.data):
// 31,102 lines, one verse each, "Ge1:1 In the beginning God created the heaven and the earth.",
// 4,404,412 bytes of ASCII in version 4.38.
inline constexpr std::string_view kKjvPackages = "bible-kjv bible-kjv-text";
inline constexpr std::string_view kKjvFileName = "kjv.txt";

// Returns <cache_dir>/kjv.txt, producing it first if it is absent: runs `program` (found on PATH
// unless it holds a '/') and writes its output atomically, creating cache_dir if needed. A cached file
// is reused if it starts with the first verse and ends with the last. Throws DataError when the
// program or its data is missing, naming the packages to install
// ("apt-get install bible-kjv bible-kjv-text"), or when it fails or its output is not the Bible.
std::filesystem::path kjv_text(const std::filesystem::path& cache_dir, const std::string& program = "bible");

// ---- Deterministic shuffling ---------------------------------------------------------------------

// SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference code): a 64-bit state advanced by the golden
// gamma 0x9E3779B97F4A7C15 and finalised by two xor-shift-multiplies. Fixed here so that the data order
// is the same on every platform and standard library.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform in [0, bound), bound >= 1, unbiased (rejection of the short last bucket).
  uint64_t below(uint64_t bound);

 private:
  uint64_t state_;
};

// The order of `n` items for `epoch` under `seed`: a Fisher-Yates shuffle (i from n-1 down to 1,
// swap i with below(i + 1)) driven by SplitMix64 seeded with mix(seed ^ mix(epoch + 1)), where mix is
// SplitMix64's finaliser. n must be < 2^32.
std::vector<uint32_t> shuffled_order(uint64_t n, uint64_t seed, uint64_t epoch);

// ---- The loader ----------------------------------------------------------------------------------

struct LoaderConfig {
  int64_t block_size = 0;     // T: tokens per row
  int64_t micro_batch = 0;    // B: rows per batch
  int rank = 0;               // r in [0, world_size)
  int world_size = 1;         // W
  uint64_t seed = 0;
  double val_fraction = 0.05; // in [0, 1): the share of the stream held out at its end
  // > 0: tokens [val_from, n) are the validation split (a separate val file after the training
  // stream) and val_fraction is not used.
  uint64_t val_from = 0;
};

// Where the loader stands: the next training batch is step `step` of epoch `epoch`.
struct Position {
  uint64_t epoch = 0;
  uint64_t step = 0;
  bool operator==(const Position&) const = default;
};

// One batch, row-major [batch, block]: targets[b][t] is the token after inputs[b][t].
struct Batch {
  int64_t batch = 0;
  int64_t block = 0;
  std::vector<int32_t> inputs;
  std::vector<int32_t> targets;
  int32_t input(int64_t b, int64_t t) const { return inputs[static_cast<size_t>(b * block + t)]; }
  int32_t target(int64_t b, int64_t t) const { return targets[static_cast<size_t>(b * block + t)]; }
};

// One loader per rank (per thread); a loader itself is not shared between threads.
class DataLoader {
 public:
  // Throws DataError for a bad configuration (T or B < 1, rank outside [0, W), val_fraction outside
  // [0, 1)) or too little data: fewer training windows than one step needs (B*W), or a validation
  // split (val_fraction > 0) too small for one validation batch per rank.
  DataLoader(std::shared_ptr<const Tokens> tokens, LoaderConfig config);

  const LoaderConfig& config() const { return config_; }
  uint64_t train_tokens() const { return train_tokens_; }     // tokens [0, train_tokens()) train
  uint64_t train_windows() const { return train_windows_; }
  uint64_t val_windows() const { return val_windows_; }
  uint64_t steps_per_epoch() const { return steps_per_epoch_; }  // the same on every rank
  uint64_t val_batches() const { return val_batches_; }          // per rank

  // Fills `out` with the training batch at position() and advances (to the next epoch after its last
  // step). `out`'s buffers are reused.
  void next(Batch& out);
  Batch next();
  Position position() const { return position_; }
  // Moves to `p`; step must be < steps_per_epoch(). Throws DataError otherwise.
  void seek(Position p);

  // Validation batch i (< val_batches()) of this rank: the same every time.
  void val_batch(uint64_t i, Batch& out) const;

  // The first token (index into the whole stream) of each row of this rank's training batch at `p`,
  // and of validation batch i: what next() and val_batch() copy from. For tests and tools.
  std::vector<uint64_t> train_rows(Position p) const;
  std::vector<uint64_t> val_rows(uint64_t i) const;

  // The loader's state for a checkpoint: {"epoch", "step", and the settings a resume must share:
  // "seed" (a decimal string: it may exceed int64), "block_size", "micro_batch", "world_size",
  // "train_tokens"}. restore() checks those settings against this loader's and seeks; a difference is a
  // DataError naming the key, the saved and the current value (continuing bit for bit needs them equal).
  json::Value state() const;
  void restore(const json::Value& state);
  // For a run of another world size or micro_batch (a checkpoint resumed under another topology):
  // moves to the first step of this loader that uses none of the windows `state`'s run had used
  // (the same epoch's order, which depends only on seed and train_tokens; seed, block_size and
  // train_tokens must be equal, as for restore). Returns the windows passed over to land on a step
  // of this loader (0 when the count used divides into its steps), never any used twice.
  uint64_t continue_after(const json::Value& state);

 private:
  struct SavedPosition {
    Position position;
    int64_t micro_batch = 0, world_size = 0;
  };
  // A saved state, checked against this loader (micro_batch and world_size too when same_batch).
  SavedPosition saved_position(const json::Value& state, bool same_batch) const;
  std::vector<uint64_t> rows_in(const std::vector<uint32_t>& order, uint64_t step) const;
  void fill(const std::vector<uint64_t>& rows, Batch& out) const;

  std::shared_ptr<const Tokens> tokens_;
  LoaderConfig config_;
  uint64_t train_tokens_ = 0;
  uint64_t train_windows_ = 0;
  uint64_t val_windows_ = 0;
  uint64_t steps_per_epoch_ = 0;
  uint64_t val_batches_ = 0;
  Position position_;
  // The shuffled order of position_.epoch, computed when the epoch is entered.
  std::vector<uint32_t> order_;
};

}  // namespace tandem::data
