// The probe program's result lines (module_probe.hpp): tab-separated fields, with '\\', '\t' and
// '\n' escaped inside a field so that any module text survives.
#include <charconv>

#include "loader/module_probe.hpp"

namespace tandem::loader {

namespace {

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '\t') {
      fields.emplace_back();
    } else if (c == '\\' && i + 1 < line.size()) {
      const char e = line[++i];
      fields.back() += e == 't' ? '\t' : e == 'n' ? '\n' : e;
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

template <class T>
bool parse_number(const std::string& text, T& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string encode_begin(size_t index) { return "begin\t" + std::to_string(index) + "\n"; }

std::string encode_outcome(size_t index, const ProbeOutcome& outcome) {
  if (!outcome.module) return "refused\t" + std::to_string(index) + "\t" + escaped(outcome.refusal) + "\n";
  const ProbedModule& m = *outcome.module;
  return "module\t" + std::to_string(index) + "\t" + std::to_string(static_cast<uint32_t>(m.kind)) + "\t" +
         std::to_string(m.abi_major) + "\t" + std::to_string(m.abi_minor) + "\t" + escaped(m.name) + "\t" +
         escaped(m.version) + "\t" + escaped(m.summary) + "\n";
}

bool decode_line(const std::string& line, ProbeEvent& event, size_t& index, ProbeOutcome& outcome) {
  const std::vector<std::string> f = split_fields(line);
  if (f.size() < 2 || !parse_number(f[1], index)) return false;
  outcome = ProbeOutcome{};
  if (f[0] == "begin" && f.size() == 2) {
    event = ProbeEvent::begin;
    return true;
  }
  event = ProbeEvent::result;
  if (f[0] == "refused" && f.size() == 3) {
    outcome.refusal = f[2];
    return true;
  }
  uint32_t kind = 0;
  ProbedModule m;
  if (f[0] != "module" || f.size() != 8 || !parse_number(f[2], kind) || !parse_number(f[3], m.abi_major) ||
      !parse_number(f[4], m.abi_minor) || !parse_kind(kind_name(static_cast<ModuleKind>(kind))))
    return false;
  m.kind = static_cast<ModuleKind>(kind);
  m.name = f[5];
  m.version = f[6];
  m.summary = f[7];
  outcome.module = std::move(m);
  return true;
}

}  // namespace tandem::loader
