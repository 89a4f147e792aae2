// JSON tree with positions: RapidJSON's SAX reader feeds a builder that stamps each value with the
// line:column where its token starts. RapidJSON 1.1 reports only byte offsets, and only where a token
// ends, so the builder walks back from the reader's offset to the token's first byte.
#include "tandem/json.hpp"

#include "io/regular_file.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <unordered_set>

namespace tandem::json {

// ---- Value ---------------------------------------------------------------------------------------

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.type_ = Type::Int;
  v.int_ = i;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.type_ = Type::Float;
  v.double_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.string_ = std::move(s);
  return v;
}
Value Value::array() {
  Value v;
  v.type_ = Type::Array;
  return v;
}
Value Value::object() {
  Value v;
  v.type_ = Type::Object;
  return v;
}

bool Value::is_integral() const {
  if (type_ == Type::Int) return true;
  if (type_ != Type::Float || !std::isfinite(double_) || std::trunc(double_) != double_) return false;
  return double_ >= -9.2233720368547758e18 && double_ < 9.2233720368547758e18;
}

static std::logic_error type_error(const Value& v, const char* wanted) {
  return std::logic_error("JSON value at '" + v.path() + "' is " + v.type_name() + ", not " + wanted);
}

bool Value::as_bool() const {
  if (type_ != Type::Bool) throw type_error(*this, "a boolean");
  return bool_;
}
int64_t Value::as_int() const {
  if (type_ == Type::Int) return int_;
  if (is_integral()) return static_cast<int64_t>(double_);
  throw type_error(*this, "an integer");
}
double Value::as_double() const {
  if (type_ == Type::Int) return static_cast<double>(int_);
  if (type_ == Type::Float) return double_;
  throw type_error(*this, "a number");
}
const std::string& Value::as_string() const {
  if (type_ != Type::String) throw type_error(*this, "a string");
  return string_;
}
const std::vector<Value>& Value::items() const {
  if (type_ != Type::Array) throw type_error(*this, "an array");
  return items_;
}
std::vector<Value>& Value::items() {
  if (type_ != Type::Array) throw type_error(*this, "an array");
  return items_;
}
const std::vector<Value::Member>& Value::members() const {
  if (type_ != Type::Object) throw type_error(*this, "an object");
  return members_;
}
std::vector<Value::Member>& Value::members() {
  if (type_ != Type::Object) throw type_error(*this, "an object");
  return members_;
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const Member& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}
Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

Value& Value::set(std::string_view key, Value v) {
  if (type_ != Type::Object) throw type_error(*this, "an object");
  const std::string child_path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  assign_paths(v, child_path);
  if (Value* existing = find(key)) {
    if (!v.position().known()) v.set_position(existing->position());
    *existing = std::move(v);
    return *existing;
  }
  members_.emplace_back(std::string(key), std::move(v));
  return members_.back().second;
}

bool Value::erase(std::string_view key) {
  if (type_ != Type::Object) return false;
  for (auto it = members_.begin(); it != members_.end(); ++it)
    if (it->first == key) {
      members_.erase(it);
      return true;
    }
  return false;
}

void Value::push_back(Value v) {
  if (type_ != Type::Array) throw type_error(*this, "an array");
  assign_paths(v, path_ + "[" + std::to_string(items_.size()) + "]");
  items_.push_back(std::move(v));
}

std::string Value::type_name() const {
  switch (type_) {
    case Type::Null: return "null";
    case Type::Bool: return "a boolean";
    case Type::Int: return "an integer";
    case Type::Float: return "a number";
    case Type::String: return is_auto() ? "\"auto\"" : "a string";
    case Type::Array: return "an array";
    case Type::Object: return "an object";
  }
  return "?";
}

void assign_paths(Value& v, const std::string& path) {
  v.set_path(path);
  if (v.is_object()) {
    for (Value::Member& m : v.members()) assign_paths(m.second, path.empty() ? m.first : path + "." + m.first);
  } else if (v.is_array()) {
    auto& items = v.items();
    for (size_t i = 0; i < items.size(); ++i) assign_paths(items[i], path + "[" + std::to_string(i) + "]");
  }
}

// ---- Positions -----------------------------------------------------------------------------------

std::string where(const std::string& source, Position pos) {
  if (!pos.known()) return source;
  return source + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
}

ParseError::ParseError(std::string source, Position pos, std::string reason)
    : std::runtime_error(where(source, pos) + ": " + reason),
      source_(std::move(source)),
      pos_(pos),
      reason_(std::move(reason)) {}

namespace {

// Line and column (1-based, in bytes) of a byte offset.
Position position_of(std::string_view text, size_t offset) {
  if (offset > text.size()) offset = text.size();
  Position p{1, 1};
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') {
      ++p.line;
      line_start = i + 1;
    }
  p.column = static_cast<uint32_t>(offset - line_start + 1);
  return p;
}

// The offset where the token that ends just before `end` begins. Strings: the opening quote (a quote
// preceded by an even number of backslashes). Numbers and literals: the first byte after a delimiter.
size_t token_start(std::string_view text, size_t end) {
  if (end == 0) return 0;
  size_t i = end - 1;
  if (text[i] == '"') {
    while (i > 0) {
      --i;
      if (text[i] != '"') continue;
      size_t backslashes = 0;
      for (size_t j = i; j > 0 && text[j - 1] == '\\'; --j) ++backslashes;
      if (backslashes % 2 == 0) return i;
    }
    return 0;
  }
  while (i > 0) {
    const char c = text[i - 1];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':' || c == '[' || c == '{' ||
        c == '/')
      break;
    --i;
  }
  return i;
}

// A read-only string stream for RapidJSON. Its own type matters: RapidJSON copies a
// GenericStringStream into locals while it parses (StreamLocalCopy), so a handler holding the
// caller's stream would see a stale offset. A stream type without the copy optimisation is used by
// reference, and Tell() is exact when each handler event fires.
class TrackedStream {
 public:
  using Ch = char;
  explicit TrackedStream(const char* text) : head_(text), src_(text) {}
  Ch Peek() const { return *src_; }
  // Never past the terminating NUL: RapidJSON's UTF-8 validation takes a lead byte's continuation
  // bytes without looking for the end, so a text ending in a lead byte (0xF4) would be read past
  // its end. At the NUL, Take() keeps returning it, which fails the continuation check.
  Ch Take() { return *src_ == '\0' ? '\0' : *src_++; }
  size_t Tell() const { return static_cast<size_t>(src_ - head_); }
  // Output side, required by RapidJSON's stream concept but never used by a read-only parse.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }

 private:
  const char* head_;
  const char* src_;
};

// Arrays and objects nest at most this deep in parsed text (a config needs 4 levels): RapidJSON
// parses containers recursively, as do the tree's own walks, so text of 10^5 nested '[' would
// overflow the stack (found by tests/fuzz).
constexpr size_t kMaxNesting = 128;

// Builds the tree from SAX events. Containers under construction sit on a stack.
class Builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder> {
 public:
  Builder(std::string_view text, const TrackedStream& stream, std::string source)
      : text_(text), stream_(stream), source_(std::move(source)) {}

  bool Null() { return add(Value::null(), token_position()); }
  bool Bool(bool b) { return add(Value::boolean(b), token_position()); }
  bool Int(int i) { return add(Value::integer(i), token_position()); }
  bool Uint(unsigned u) { return add(Value::integer(u), token_position()); }
  bool Int64(int64_t i) { return add(Value::integer(i), token_position()); }
  bool Uint64(uint64_t u) {
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return add(Value::integer(static_cast<int64_t>(u)), token_position());
    return add(Value::number(static_cast<double>(u)), token_position());
  }
  bool Double(double d) { return add(Value::number(d), token_position()); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return add(Value::string(std::string(s, n)), token_position());
  }
  bool StartObject() { return open(Value::object()); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    Frame& f = stack_.back();
    f.key.assign(s, n);
    f.key_pos = token_position();
    // A set per object keeps duplicate detection linear: a header with 10^5 keys (safetensors) must
    // not cost 10^10 comparisons.
    if (!f.keys.insert(f.key).second) {
      const Value* dup = f.value.find(f.key);
      refusal_ = ParseError(source_, f.key_pos,
                            "duplicate key \"" + f.key + "\" (first at " + where(source_, dup->position()) + ")");
      return false;
    }
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(Value::array()); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  Value take_root() { return std::move(root_); }
  // Why the builder stopped the parse (a duplicate key, too deep a nesting), if it did.
  const std::optional<ParseError>& refusal() const { return refusal_; }

 private:
  struct Frame {
    Value value;
    Position start;   // of '{' or '['
    std::string key;  // objects: the pending key
    Position key_pos;
    std::unordered_set<std::string> keys;  // objects: the keys so far
  };

  // RapidJSON reads strings, keys and numbers through a local copy of the stream (StreamLocalCopy)
  // and writes the offset back only after the handler returns: during those events Tell() is still
  // where the token starts. Literals (true, false, null) are read on the stream itself, so Tell() is
  // past them, on a delimiter, and the token is found by walking back.
  size_t token_begin() const {
    const size_t tell = stream_.Tell();
    if (tell < text_.size()) {
      const char c = text_[tell];
      if (c == '"' || c == '-' || (c >= '0' && c <= '9')) return tell;
    }
    return token_start(text_, tell);
  }

  Position token_position() { return position_at(token_begin()); }

  // Line and column of an offset, scanning on from the last one asked for. Positions are asked for in
  // text order (each container's and key's when it starts, each scalar's when it is read), so parsing
  // stays linear in the text; an earlier offset, never expected, is still answered by rescanning.
  Position position_at(size_t offset) {
    if (offset > text_.size()) offset = text_.size();
    if (offset < scanned_) {
      scanned_ = 0;
      line_ = 1;
      line_start_ = 0;
    }
    for (; scanned_ < offset; ++scanned_)
      if (text_[scanned_] == '\n') {
        ++line_;
        line_start_ = scanned_ + 1;
      }
    return Position{line_, static_cast<uint32_t>(offset - line_start_ + 1)};
  }

  bool open(Value container) {
    const Position start = position_at(stream_.Tell() - 1);
    if (stack_.size() >= kMaxNesting) {
      refusal_ = ParseError(source_, start, "nested deeper than " + std::to_string(kMaxNesting) + " levels");
      return false;
    }
    stack_.push_back(Frame{std::move(container), start, {}, {}, {}});
    return true;
  }
  bool close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    return add(std::move(f.value), f.start);
  }
  // Puts a finished value into its parent (or makes it the root). Members are positioned at their key.
  bool add(Value v, Position value_pos) {
    if (stack_.empty()) {
      v.set_position(value_pos);
      root_ = std::move(v);
      return true;
    }
    Frame& parent = stack_.back();
    if (parent.value.is_object()) {
      v.set_position(parent.key_pos);
      parent.value.members().emplace_back(std::move(parent.key), std::move(v));
    } else {
      v.set_position(value_pos);
      parent.value.items().push_back(std::move(v));
    }
    return true;
  }

  std::string_view text_;
  const TrackedStream& stream_;
  std::string source_;
  std::vector<Frame> stack_;
  Value root_;
  std::optional<ParseError> refusal_;
  size_t scanned_ = 0;  // position_at's cursor: the line and line start at offset scanned_
  uint32_t line_ = 1;
  size_t line_start_ = 0;
};

}  // namespace

Document parse(std::string_view text, std::string source) {
  // RapidJSON reads NUL-terminated input: a NUL inside the text would silently end it early.
  const std::string buffer(text);
  if (const size_t nul = buffer.find('\0'); nul != std::string::npos)
    throw ParseError(source, position_of(buffer, nul), "NUL byte in the document");
  TrackedStream stream(buffer.c_str());
  Builder builder(buffer, stream, source);
  rapidjson::Reader reader;
  constexpr unsigned flags = rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag |
                             rapidjson::kParseValidateEncodingFlag;
  const rapidjson::ParseResult ok = reader.Parse<flags>(stream, builder);
  if (builder.refusal()) throw *builder.refusal();
  if (!ok) throw ParseError(source, position_of(buffer, ok.Offset()), rapidjson::GetParseError_En(ok.Code()));
  Document doc{std::move(source), builder.take_root()};
  assign_paths(doc.root, "");
  return doc;
}

Document parse_file(const std::filesystem::path& file) {
  std::string text;
  try {
    text = io::RegularFile::open_for_reading(file, kMaxJsonFileBytes, "a JSON file (config, run file)").read_all();
  } catch (const io::FileRefusal& e) {
    throw ParseError(file.string(), Position{}, e.reason());
  }
  return parse(text, file.string());
}

// ---- Writing -------------------------------------------------------------------------------------

namespace {

template <class Writer>
void write(Writer& w, const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: w.Null(); break;
    case Value::Type::Bool: w.Bool(v.as_bool()); break;
    case Value::Type::Int: w.Int64(v.as_int()); break;
    case Value::Type::Float: w.Double(v.as_double()); break;
    case Value::Type::String: w.String(v.as_string().c_str(), static_cast<rapidjson::SizeType>(v.as_string().size())); break;
    case Value::Type::Array:
      w.StartArray();
      for (const Value& item : v.items()) write(w, item);
      w.EndArray();
      break;
    case Value::Type::Object:
      w.StartObject();
      for (const Value::Member& m : v.members()) {
        w.Key(m.first.c_str(), static_cast<rapidjson::SizeType>(m.first.size()));
        write(w, m.second);
      }
      w.EndObject();
      break;
  }
}

}  // namespace

std::string to_string(const Value& v, bool pretty) {
  rapidjson::StringBuffer buffer;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    w.SetIndent(' ', 2);
    write(w, v);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    write(w, v);
  }
  return buffer.GetString();
}

}  // namespace tandem::json
