// Safetensors header validation. Order matters for the messages: first the 8-byte length against the
// file, then a cheap scan of the raw text (bounds the memory the JSON tree will take and refuses what
// the format's JSON never contains), then the JSON parse, then each entry, then how the entries tile
// the data section. Nothing here indexes the file with a number taken from it before checking it.
#include "io/safetensors_header.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>

#include "tandem/json.hpp"

namespace tandem::safetensors::detail {

namespace {

// The format nests at most 3 levels: {name: {"shape": [...]}}.
constexpr int kMaxDepth = 3;

std::string offsets_string(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// Refuses, before any allocation proportional to the header, what plain safetensors JSON never has:
// a first byte other than '{', comments, trailing commas, deep nesting, and more values than
// kMaxHeaderValues (json::parse builds a tree of about 300 bytes a value; an unbounded count would let a
// 100 MB header of "[0,0,0,..." claim gigabytes). RapidJSON itself recurses per nesting level, so the
// depth limit also keeps a hostile "[[[[..." from exhausting the stack.
std::optional<std::string> scan_plain_json(std::string_view text) {
  if (text.empty() || text.front() != '{')
    return std::string("header does not start with '{' (a safetensors header is a JSON object)");
  int depth = 0;
  uint64_t values = 1;
  bool in_string = false;
  bool escaped = false;
  char last = 0;  // the last significant character outside strings
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"') {
        in_string = false;
        last = '"';
      }
      continue;
    }
    const std::string at = " at byte " + std::to_string(i) + " of the header";
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++depth > kMaxDepth)
          return "header nests deeper than " + std::to_string(kMaxDepth) + " levels" + at +
                 " (a safetensors header is {name: {key: [...]}})";
        ++values;
        break;
      case '}':
      case ']':
        if (last == ',') return "trailing comma before '" + std::string(1, c) + "'" + at;
        --depth;
        break;
      case ',': ++values; break;
      case '/': return "comment" + at + " (the header must be plain JSON)";
      default: break;
    }
    if (values > kMaxHeaderValues)
      return "header has more than " + std::to_string(kMaxHeaderValues) + " JSON values";
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') last = c;
  }
  return std::nullopt;  // anything else wrong (unbalanced, bad tokens) is left to the parser
}

struct EntryContext {
  const std::string& source;
  const std::string& name;
  Error fail(const std::string& reason) const { return Error(source, name, reason); }
};

// A JSON integer in [0, 2^63); the JSON tree keeps integers that fit int64 as Int, larger ones as Float.
uint64_t non_negative_integer(const json::Value& v, const std::string& what, const EntryContext& ctx) {
  if (!v.is_int()) {
    if (v.is_number() && v.as_double() >= 9.2233720368547758e18)
      throw ctx.fail(what + " is " + json::to_string(v) + ", beyond the supported range (2^63 - 1)");
    throw ctx.fail(what + " is " + v.type_name() + " (" + json::to_string(v) + "), not an integer");
  }
  if (v.as_int() < 0) throw ctx.fail(what + " is " + std::to_string(v.as_int()) + ", negative");
  return static_cast<uint64_t>(v.as_int());
}

TensorInfo parse_entry(const std::string& name, const json::Value& entry, uint64_t data_len,
                       const std::string& source) {
  const EntryContext ctx{source, name};
  if (!entry.is_object()) throw ctx.fail("entry is " + entry.type_name() + ", not an object");
  for (const json::Value::Member& m : entry.members())
    if (m.first != "dtype" && m.first != "shape" && m.first != "data_offsets")
      throw ctx.fail("unknown key \"" + m.first + "\" (an entry has dtype, shape and data_offsets)");

  TensorInfo t;
  t.name = name;

  const json::Value* dtype = entry.find("dtype");
  if (dtype == nullptr) throw ctx.fail("no \"dtype\"");
  if (!dtype->is_string()) throw ctx.fail("\"dtype\" is " + dtype->type_name() + ", not a string");
  const std::string& dname = dtype->as_string();
  if (std::optional<Dtype> d = dtype_from_name(dname))
    t.dtype = *d;
  else if (dname == "F4" || dname == "F6_E2M3" || dname == "F6_E3M2")
    throw ctx.fail("dtype " + dname + " packs elements in less than a byte; not supported");
  else
    throw ctx.fail("unknown dtype \"" + dname + "\"");

  const json::Value* shape = entry.find("shape");
  if (shape == nullptr) throw ctx.fail("no \"shape\"");
  if (!shape->is_array()) throw ctx.fail("\"shape\" is " + shape->type_name() + ", not an array");
  for (size_t i = 0; i < shape->items().size(); ++i)
    t.shape.push_back(static_cast<int64_t>(
        non_negative_integer(shape->items()[i], "shape[" + std::to_string(i) + "]", ctx)));

  const json::Value* offsets = entry.find("data_offsets");
  if (offsets == nullptr) throw ctx.fail("no \"data_offsets\"");
  if (!offsets->is_array() || offsets->items().size() != 2)
    throw ctx.fail("\"data_offsets\" is " + json::to_string(*offsets) + ", not [begin, end]");
  t.begin = non_negative_integer(offsets->items()[0], "data_offsets[0]", ctx);
  t.end = non_negative_integer(offsets->items()[1], "data_offsets[1]", ctx);
  if (t.begin > t.end) throw ctx.fail("data_offsets " + offsets_string(t.begin, t.end) + " end before they begin");

  uint64_t numel = 1;
  for (int64_t dim : t.shape)
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dim), &numel))
      throw ctx.fail("shape " + shape_string(t.shape) + " has more than 2^64 elements");
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(t.dtype)), &bytes))
    throw ctx.fail("shape " + shape_string(t.shape) + " of " + dname + " needs more than 2^64 bytes");
  if (bytes != t.end - t.begin)
    throw ctx.fail("shape " + shape_string(t.shape) + " of " + dname + " needs " + std::to_string(bytes) +
                   " bytes, data_offsets give " + std::to_string(t.end - t.begin));
  if (t.end > data_len)
    throw ctx.fail("data_offsets " + offsets_string(t.begin, t.end) + " run past the data section of " +
                   std::to_string(data_len) + " bytes");
  return t;
}

Metadata parse_metadata(const json::Value& v, const std::string& source) {
  if (!v.is_object())
    throw Error(source, "", std::string(kMetadataKey) + " is " + v.type_name() + ", not an object");
  Metadata out;
  for (const json::Value::Member& m : v.members()) {
    if (!m.second.is_string())
      throw Error(source, "", std::string(kMetadataKey) + "." + m.first + " is " + m.second.type_name() +
                                  ", not a string");
    out.emplace_back(m.first, m.second.as_string());
  }
  return out;
}

// The tensors, sorted by offset, must tile [0, data_len): no gap, no overlap, nothing after the last.
void check_tiling(const std::vector<TensorInfo>& sorted, uint64_t data_len, const std::string& source) {
  uint64_t expected = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const TensorInfo& t = sorted[i];
    if (t.begin < expected) {
      const TensorInfo& prev = sorted[i - 1];  // i > 0: expected > 0 only after a tensor
      throw Error(source, t.name,
                  "data_offsets " + offsets_string(t.begin, t.end) + " overlap tensor '" + prev.name + "' " +
                      offsets_string(prev.begin, prev.end));
    }
    if (t.begin > expected)
      throw Error(source, t.name,
                  "bytes " + offsets_string(expected, t.begin) +
                      " of the data section before this tensor belong to no tensor");
    expected = t.end;
  }
  if (expected != data_len)
    throw Error(source, "",
                "the data section has " + std::to_string(data_len) + " bytes but the tensors cover " +
                    std::to_string(expected) + " (trailing bytes or a truncated header)");
}

}  // namespace

ParsedFile parse_file_bytes(std::span<const uint8_t> file, const std::string& source) {
  if (file.empty()) throw Error(source, "", "empty file (0 bytes): not a safetensors file");
  if (file.size() < 8)
    throw Error(source, "",
                "truncated: " + std::to_string(file.size()) + " bytes, shorter than the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file[static_cast<size_t>(i)];
  const uint64_t after_length = file.size() - 8;
  if (header_len == 0) throw Error(source, "", "header length is 0: no header");
  if (header_len > after_length)
    throw Error(source, "",
                "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                    std::to_string(after_length) + " bytes follow the length field): truncated, or not safetensors");
  if (header_len > kMaxHeaderBytes)
    throw Error(source, "",
                "header length " + std::to_string(header_len) + " exceeds the limit of " +
                    std::to_string(kMaxHeaderBytes) + " bytes");

  const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), static_cast<size_t>(header_len));
  if (std::optional<std::string> bad = scan_plain_json(text)) throw Error(source, "", *bad);

  json::Document doc;
  try {
    doc = json::parse(text, source + " (header)");
  } catch (const json::ParseError& e) {
    const json::Position p = e.position();
    throw Error(source, "",
                "header is not valid JSON" +
                    (p.known() ? " (line " + std::to_string(p.line) + ", column " + std::to_string(p.column) + ")"
                               : std::string()) +
                    ": " + e.reason());
  }
  if (!doc.root.is_object()) throw Error(source, "", "header is " + doc.root.type_name() + ", not an object");

  ParsedFile out;
  out.data_start = 8 + header_len;
  const uint64_t data_len = file.size() - out.data_start;
  for (const json::Value::Member& m : doc.root.members()) {
    if (m.first == kMetadataKey)
      out.metadata = parse_metadata(m.second, source);
    else
      out.tensors.push_back(parse_entry(m.first, m.second, data_len, source));
  }
  std::sort(out.tensors.begin(), out.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  check_tiling(out.tensors, data_len, source);
  return out;
}

}  // namespace tandem::safetensors::detail
