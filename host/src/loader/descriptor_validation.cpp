// validate_descriptor(): see descriptor_validation.hpp. The order of the checks is the order in which
// it is safe to read the descriptor's fields.
#include "loader/descriptor_validation.hpp"

#include <cmath>
#include <cstring>
#include <string_view>

#include "loader/abi_layout.hpp"
#include "loader/param_binding.hpp"
#include "tandem/json.hpp"
#include "tandem/registry.hpp"

namespace tandem::loader {

namespace {

// Longest module or parameter name accepted; also bounds how far a name is read.
constexpr size_t kMaxNameLength = 128;
// An upper bound on a spec's struct_size: a size above it is garbage, not a later minor.
constexpr uint32_t kMaxParamSpecSize = 4096;

std::string version_text(uint16_t major, uint16_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// nullopt if `name` is a valid module or parameter name ([A-Za-z0-9_-]+, not too long).
std::optional<std::string> check_name(const char* name, const char* what) {
  if (name == nullptr) return std::string(what) + " is null";
  const size_t n = strnlen(name, kMaxNameLength + 1);
  if (n == 0) return std::string(what) + " is empty";
  if (n > kMaxNameLength) return std::string(what) + " is longer than " + std::to_string(kMaxNameLength) + " characters";
  for (size_t i = 0; i < n; ++i)
    if (!is_name_char(name[i]))
      return std::string(what) + " \"" + std::string(name, n) + "\" has the character '" + name[i] +
             "'; names use only letters, digits, '_' and '-'";
  return std::nullopt;
}

std::optional<std::string> check_param_spec(const tandem_param_spec& spec, size_t index, uint32_t stride) {
  const std::string at = "parameter #" + std::to_string(index);
  if (spec.struct_size != stride)
    return at + ": spec is " + std::to_string(spec.struct_size) + " bytes, but the table's first is " +
           std::to_string(stride) + " (every spec of a table has one size)";
  if (auto bad = check_name(spec.name, (at + "'s name").c_str())) return bad;
  const std::string named = "parameter '" + std::string(spec.name) + "'";
  if (spec.type < TANDEM_PARAM_BOOL || spec.type > TANDEM_PARAM_FLOAT_PER_GROUP)
    return named + " has type " + std::to_string(spec.type) + ", not a tandem_param_type (1 to 5)";
  if (std::isnan(spec.min) || std::isnan(spec.max) || spec.min > spec.max)
    return named + " has bounds [" + format_number(spec.min) + ", " + format_number(spec.max) +
           "]; the minimum must not exceed the maximum";
  if (spec.choices != nullptr && spec.type != TANDEM_PARAM_STRING)
    return named + " lists choices but is not a string parameter";
  if (spec.choices != nullptr && spec.choices[0] == nullptr) return named + " has an empty list of choices";
  if (spec.required != 0) {
    if (spec.default_json != nullptr)
      return named + " is required but has a default (" + spec.default_json + "); a required parameter has none";
    return std::nullopt;
  }
  if (spec.default_json == nullptr) return named + " is optional but has no default (default_json is null)";
  json::Document def;
  try {
    def = json::parse(spec.default_json, "default");
  } catch (const json::ParseError& e) {
    return named + " has a default that is not JSON: '" + spec.default_json + "' (" + e.what() + ")";
  }
  if (auto p = check_param_value(spec, def.root))
    return named + " has a default that its own schema refuses: '" + spec.default_json + "': " + p->message;
  return std::nullopt;
}

std::optional<std::string> check_param_table(const tandem_module_descriptor& d) {
  if (d.param_count == 0) return std::nullopt;
  if (d.params == nullptr)
    return "param_count is " + std::to_string(d.param_count) + " but the parameter table (params) is null";
  const uint32_t stride = d.params[0].struct_size;
  if (stride < kParamSpecSize_1_0 || stride > kMaxParamSpecSize || stride % alignof(tandem_param_spec) != 0)
    return "parameter spec is " + std::to_string(stride) + " bytes, at least " + std::to_string(kParamSpecSize_1_0) +
           " expected (ABI 1.0), at most " + std::to_string(kMaxParamSpecSize) + ", and a multiple of " +
           std::to_string(alignof(tandem_param_spec));
  for (size_t i = 0; i < d.param_count; ++i) {
    const tandem_param_spec& spec = param_spec_at(d, i);
    if (auto bad = check_param_spec(spec, i, stride)) return bad;
    for (size_t j = 0; j < i; ++j)
      if (std::strcmp(param_spec_at(d, j).name, spec.name) == 0)
        return "parameter '" + std::string(spec.name) + "' is declared twice (#" + std::to_string(j) + " and #" +
               std::to_string(i) + ")";
  }
  return std::nullopt;
}

std::optional<std::string> check_function_table(const tandem_module_descriptor& d, ModuleKind kind) {
  if (d.create == nullptr) return std::string("create (the factory) is null");
  if (d.destroy == nullptr) return std::string("destroy is null");
  const std::string kind_text(kind_name(kind));
  const std::optional<VtableLayout> layout = vtable_layout_1_0(kind);
  if (!layout)
    return "kind " + kind_text + " has no function table in SDK " + version_text(TANDEM_ABI_MAJOR, TANDEM_ABI_MINOR) +
           " (a later SDK minor adds it); this host cannot use such a module";
  if (d.vtable == nullptr) return "the " + kind_text + " function table (vtable) is null";
  const auto* table = static_cast<const unsigned char*>(d.vtable);
  uint32_t size = 0;
  std::memcpy(&size, table, sizeof(size));  // every table begins with its struct_size
  if (size < layout->size)
    return kind_text + " function table is " + std::to_string(size) + " bytes, at least " +
           std::to_string(layout->size) + " expected (ABI 1.0)";
  for (const VtableEntry& entry : layout->entries) {
    void* function = nullptr;
    std::memcpy(&function, table + entry.offset, sizeof(function));
    if (function == nullptr) return kind_text + " function table entry '" + entry.name + "' is null";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> validate_descriptor(const tandem_module_descriptor* d, uint16_t host_major,
                                               uint16_t host_minor) {
  if (d == nullptr) return std::string("the entry point returned no descriptor (null)");
  // struct_size first, and then only as much as it proves is there.
  if (d->struct_size < kDescriptorHeaderSize)
    return "descriptor is " + std::to_string(d->struct_size) + " bytes, at least " +
           std::to_string(kDescriptorHeaderSize) + " expected (struct_size, abi_major, abi_minor)";
  const std::string module_version = version_text(d->abi_major, d->abi_minor);
  const std::string host_version = version_text(host_major, host_minor);
  if (d->abi_major != host_major)
    return "wrong ABI version: the module was built for tandem ABI " + module_version + ", this host supports ABI " +
           host_version + " (major version " + std::to_string(d->abi_major) + " differs from " +
           std::to_string(host_major) + "); rebuild the module against this SDK";
  if (d->abi_minor > host_minor)
    return "ABI version too new: the module was built for tandem ABI " + module_version +
           ", this host supports ABI " + host_version + " (minor version " + std::to_string(d->abi_minor) +
           " is newer than " + std::to_string(host_minor) + "); update tandem or rebuild the module against this SDK";
  if (d->struct_size < kDescriptorSize_1_0)
    return "descriptor is " + std::to_string(d->struct_size) + " bytes, at least " + std::to_string(kDescriptorSize_1_0) +
           " expected (tandem ABI 1.0 layout; the module claims ABI " + module_version + ")";

  const std::optional<ModuleKind> kind = [&]() -> std::optional<ModuleKind> {
    if (d->kind >= TANDEM_KIND_STAGE && d->kind <= TANDEM_KIND_MODEL) return static_cast<ModuleKind>(d->kind);
    return std::nullopt;
  }();
  if (!kind)
    return "kind " + std::to_string(d->kind) + " is not a tandem_kind (1 stage, 2 optimizer, 3 scheduler, 4 comm, 5 model)";
  if (auto bad = check_name(d->name, "module name")) return bad;
  if (d->version == nullptr) return std::string("version is null");
  if (d->summary == nullptr) return std::string("summary is null");
  if (auto bad = check_param_table(*d)) return bad;
  return check_function_table(*d, *kind);
}

}  // namespace tandem::loader
