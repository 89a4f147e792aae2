// Safetensors, Hugging Face's weight file format: tandem reads and writes model weights in it, so a
// GPT-2 checkpoint from the hub loads as it is and tandem's checkpoints load in `transformers`.
//
// Layout (github.com/huggingface/safetensors): an 8-byte little-endian u64 N, then N bytes of JSON
// header, then the data section. The header maps each tensor name to
//   {"dtype": "F32", "shape": [768, 2304], "data_offsets": [begin, end]}
// (offsets in bytes, relative to the start of the data section, elements little-endian, row-major),
// plus an optional "__metadata__" object of string -> string.
//
// The reader trusts nothing in the file, because a later issue fuzzes it: every length and offset is
// checked against the bytes actually present before it is used, sizes are computed with overflow
// checks, and nothing is allocated from a size the header claims. Rules, as the reference
// implementation applies them:
//   - the header is at most 100,000,000 bytes and fits in the file; it starts with '{' and is a JSON
//     object (trailing spaces, the padding writers add, are allowed); plain JSON only: no comments,
//     no trailing commas, no nesting deeper than the format has (3 levels), at most kMaxHeaderValues
//     JSON values (this bounds the memory the parsed header takes, to about 250 MB, and parsing is
//     linear in the header's size);
//   - each entry has exactly the keys dtype, shape and data_offsets; the dtype is known; the shape is
//     a list of non-negative integers; data_offsets is [begin, end] with begin <= end;
//     numel(shape) * dtype_size == end - begin, computed without overflow;
//   - the tensors tile the data section exactly: sorted by offset, each begins where the previous one
//     ends, the first at 0, the last at the end of the file. A gap, an overlap or trailing bytes are
//     errors (the reference implementation refuses them too, so no file HF wrote is refused here);
//   - duplicate names are refused (by the JSON parser); "__metadata__" values must be strings.
//
// GPT-2 names. Hugging Face's GPT2LMHeadModel names its parameters "transformer.h.0.attn.c_attn.weight",
// ..., and tandem writes those. The hub's gpt2 model.safetensors was saved from GPT2Model and has the
// same names without "transformer.", plus buffers that are not parameters: "h.N.attn.bias" (the
// causal mask, [1, 1, n_ctx, n_ctx]) and, in older files, "h.N.attn.masked_bias". Lookups through
// File::resolve (and get/expect/read_f32, which use it) accept either form. Conv1D weights
// (c_attn, c_proj, c_fc) are stored [in, out], i.e. transposed relative to nn.Linear.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::safetensors {

// ---- Element types -------------------------------------------------------------------------------

// The dtypes of the format that take whole bytes, declared in the order of the reference
// implementation's enum (increasing element size), which its writer sorts by. The sub-byte ones of
// newer versions (F4, F6_E2M3, F6_E3M2) are refused by name as unsupported.
enum class Dtype : uint8_t {
  Bool, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ,
  I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64
};

size_t dtype_size(Dtype d);                              // bytes per element
std::string_view dtype_name(Dtype d);                    // as in the header: "F32", "BF16", "BOOL", ...
std::optional<Dtype> dtype_from_name(std::string_view name);  // exact, case-sensitive

// Scalar conversions used by read_f32 and by writers of bf16 files. f32_to_bf16 rounds to nearest,
// ties to even, and keeps a NaN a NaN (quiet).
float bf16_to_f32(uint16_t bits);
uint16_t f32_to_bf16(float value);
float f16_to_f32(uint16_t bits);  // IEEE binary16, subnormals, infinities and NaNs included

// "[768, 2304]"; "[]" for a scalar.
std::string shape_string(std::span<const int64_t> shape);

// ---- Errors --------------------------------------------------------------------------------------

// Every refusal names the file, the tensor when one is concerned, and the reason. what() reads
//   "<file>: tensor 'h.0.ln_1.weight': shape [768] needs 3072 bytes, data_offsets give 3070"
// or "<file>: <reason>" when no tensor is concerned.
class Error : public std::runtime_error {
 public:
  Error(std::string file, std::string tensor, std::string reason);
  const std::string& file() const { return file_; }
  const std::string& tensor() const { return tensor_; }  // "" when no single tensor is at fault
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  std::string tensor_;
  std::string reason_;
};

// ---- Reading -------------------------------------------------------------------------------------

inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
inline constexpr uint64_t kMaxHeaderValues = 1u << 20;    // ~150,000 tensors
inline constexpr std::string_view kMetadataKey = "__metadata__";

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;  // each >= 0; empty for a scalar
  uint64_t begin = 0;          // byte offsets in the data section: [begin, end)
  uint64_t end = 0;

  uint64_t numel() const;  // product of shape (1 for a scalar); validated not to overflow
  uint64_t nbytes() const { return end - begin; }
};

// A validated safetensors file. The bytes stay mapped (or held) for the File's lifetime; tensors are
// read from them on request. Movable, not copyable. Thread-safe for concurrent reads. As with any
// mapped reader (Hugging Face's included), another process truncating the file while it is open would
// raise SIGBUS; tandem's writer never changes a file in place (it renames a new one over it).
class File {
 public:
  // Maps the file read-only (a regular file only). Throws Error for a missing, unreadable, empty,
  // truncated or malformed file.
  static File open(const std::filesystem::path& path);
  // Parses bytes held in memory (tests, fuzzing); `source` names them in errors.
  static File parse(std::vector<uint8_t> bytes, std::string source = "<memory>");

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  const std::string& source() const { return source_; }
  // All tensors, in data-section order (ascending begin).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // "__metadata__" in header order; empty if the file has none.
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
  const std::string* metadata_value(std::string_view key) const;  // nullptr if absent

  // Exact name; nullptr if absent.
  const TensorInfo* find(std::string_view name) const;
  // The exact name if present, else the same name with the "transformer." prefix removed (or, for
  // a name without it, added): the two naming forms of Hugging Face's GPT-2. nullptr if neither.
  const TensorInfo* resolve(std::string_view name) const;
  // resolve(), throwing Error "no tensor named 'x' (nor 'y')" when absent.
  const TensorInfo& get(std::string_view name) const;
  // get(), and the shape must be `shape`: otherwise Error
  //   "tensor 'wte.weight': expected shape [50257, 768], found [50257, 769]".
  const TensorInfo& expect(std::string_view name, const std::vector<int64_t>& shape) const;

  // The raw little-endian bytes of a tensor (inside this File's storage).
  std::span<const uint8_t> bytes(const TensorInfo& t) const;
  // The tensor's elements as float: F32 as is, BF16 and F16 widened, F64 narrowed. Other dtypes are
  // an Error naming the dtype. The second form writes into `out`, whose size must equal numel().
  std::vector<float> read_f32(std::string_view name) const;
  void read_f32(std::string_view name, std::span<float> out) const;

 private:
  struct Storage;
  File(std::shared_ptr<const Storage> storage, std::string source);

  std::shared_ptr<const Storage> storage_;
  std::string source_;
  std::span<const uint8_t> data_;  // the data section, inside storage_
  std::vector<TensorInfo> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::vector<uint32_t> by_name_;  // indices into tensors_, sorted by name, for lookups
};

// ---- Writing -------------------------------------------------------------------------------------

// A tensor to write. `bytes` is borrowed (it must outlive the write) and holds numel(shape) elements
// of `dtype`, little-endian, row-major.
struct TensorData {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> bytes;
};
TensorData f32_tensor(std::string name, std::vector<int64_t> shape, std::span<const float> values);
TensorData bf16_tensor(std::string name, std::vector<int64_t> shape, std::span<const uint16_t> bits);
// Narrows floats to bf16 bit patterns (f32_to_bf16 on each), for bf16_tensor.
std::vector<uint16_t> to_bf16(std::span<const float> values);

using Metadata = std::vector<std::pair<std::string, std::string>>;

// Writes `tensors` and `metadata` to `path` atomically: the bytes go to "<path>.tmp-<pid>", which is
// fsynced and renamed over `path`, and then the directory is fsynced, so `path` holds either its old
// content or the whole new file, never a part, and a failed write leaves no temporary file behind.
// The layout is Hugging Face's (safetensors 0.8.0 writes the same bytes for the same tensors and a
// single metadata key): tensors ordered by dtype, descending in the enum's order (so by element size,
// largest first, which keeps every tensor aligned to its element size), then by name; the header lists
// "__metadata__" first (when there is metadata), then the tensors in data order, compact JSON, padded
// with spaces so that the data section starts at a multiple of 8 bytes. Throws Error for a bad
// tensor (empty or duplicate name, "__metadata__" as a name, negative dimension, byte count not
// matching the shape) before touching the file system, and for any I/O failure.
void write(const std::filesystem::path& path, std::span<const TensorData> tensors,
           const Metadata& metadata = {});
// The same bytes as write() produces, in memory.
std::vector<uint8_t> serialize(std::span<const TensorData> tensors, const Metadata& metadata = {});

// ---- GPT-2 naming --------------------------------------------------------------------------------

inline constexpr std::string_view kGpt2Prefix = "transformer.";
// "transformer.h.0.ln_1.weight" -> "h.0.ln_1.weight"; other names unchanged.
std::string_view without_gpt2_prefix(std::string_view name);
// True for the attention buffers of HF GPT-2 files that are not parameters ("h.N.attn.bias",
// "h.N.attn.masked_bias", with or without the prefix): a loader skips them.
bool is_gpt2_attention_buffer(std::string_view name);

}  // namespace tandem::safetensors
