// Parsing and validating a safetensors header (internal to libtandem: File uses it). See the rules in
// tandem/safetensors.hpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tandem/safetensors.hpp"

namespace tandem::safetensors::detail {

struct ParsedFile {
  std::vector<TensorInfo> tensors;  // sorted by begin offset
  Metadata metadata;
  uint64_t data_start = 0;  // offset of the data section in the file
};

// `file` is every byte of the file; `source` names it in errors. Throws Error.
ParsedFile parse_file_bytes(std::span<const uint8_t> file, const std::string& source);

}  // namespace tandem::safetensors::detail
