// The checks a module's descriptor must pass before the host uses it: a pure function of the
// descriptor's memory (no file, no library), so that a fuzzer can call it on arbitrary bytes laid
// out as a descriptor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tandem/abi.h"

namespace tandem::loader {

// Returns why the descriptor is refused, or nullopt if the host may use it. In order, each check
// reading only what the earlier ones proved present (STYLE.md 2: the version before anything else):
//   null; struct_size too small to hold the version; ABI major differs; ABI minor newer than the
//   host; struct_size smaller than the 1.0 layout; kind; name; version and summary; the parameter
//   table (each spec's size, name, type, bounds, choices, and its default parsed as JSON and checked
//   against the spec); create and destroy; the kind's function table and its size (and, for the
//   scheduler, that each entry is set).
// The reason does not name the file; the caller adds it. Both versions appear in version reasons.
std::optional<std::string> validate_descriptor(const tandem_module_descriptor* descriptor,
                                               uint16_t host_abi_major = TANDEM_ABI_MAJOR,
                                               uint16_t host_abi_minor = TANDEM_ABI_MINOR);

}  // namespace tandem::loader
