// Base64 decoding for configs passed as an argument, which Accelerate and DeepSpeed accept
// urlsafe-base64-encoded (Python's base64.urlsafe_b64decode).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tandem::config_detail {

// Decodes the urlsafe alphabet ('-' and '_'; '+' and '/' are accepted too), with or without '='
// padding; nullopt if `text` is not base64 (any other character, or a dangling 6-bit group).
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace tandem::config_detail
