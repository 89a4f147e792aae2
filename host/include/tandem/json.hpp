// A JSON tree that remembers where each value came from (file, line:column, JSON path), so that any
// error about a config can point at the text. Parsed with RapidJSON's SAX reader, accepting the
// comments and trailing commas that DeepSpeed configs (and the seed's own examples) contain.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::json {

// 1-based; 0 means "not from a text" (a value the program made, such as a filled default).
struct Position {
  uint32_t line = 0;
  uint32_t column = 0;
  bool known() const { return line != 0; }
};

class Value {
 public:
  enum class Type { Null, Bool, Int, Float, String, Array, Object };
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value array();
  static Value object();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float; }
  // An Int, or a Float with an integral value that fits int64 (DeepSpeed configs write 5e8).
  bool is_integral() const;
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  // The string "auto" (Accelerate's placeholder for a value filled at prepare).
  bool is_auto() const { return type_ == Type::String && string_ == "auto"; }

  // Accessors throw std::logic_error on a type mismatch: check the type first.
  bool as_bool() const;
  int64_t as_int() const;  // also an integral Float
  double as_double() const;  // Int or Float
  const std::string& as_string() const;
  const std::vector<Value>& items() const;
  std::vector<Value>& items();
  const std::vector<Member>& members() const;  // in document order
  std::vector<Member>& members();

  // Object lookup; nullptr if absent or not an object.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Sets (replacing in place, keeping its order) or appends a member; returns it.
  Value& set(std::string_view key, Value v);
  bool erase(std::string_view key);
  void push_back(Value v);

  // Where the value starts in its text (for an object member: where its key starts).
  Position position() const { return position_; }
  void set_position(Position p) { position_ = p; }
  // The JSON path from the root, e.g. "zero_optimization.offload_optimizer.device" or
  // "scheduler.params.warmup_min_lr[1]"; "" for the root.
  const std::string& path() const { return path_; }
  void set_path(std::string p) { path_ = std::move(p); }

  // "a string", "an integer", "a number", "an object", ... for messages.
  std::string type_name() const;

 private:
  Type type_ = Type::Null;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0.0;
  std::string string_;
  std::vector<Value> items_;
  std::vector<Member> members_;
  Position position_;
  std::string path_;
};

// Thrown for text that is not JSON (or has a duplicate key): the message already reads
// "<source>:<line>:<column>: <reason>".
class ParseError : public std::runtime_error {
 public:
  ParseError(std::string source, Position pos, std::string reason);
  const std::string& source() const { return source_; }
  Position position() const { return pos_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string source_;
  Position pos_;
  std::string reason_;
};

// A parsed text: the tree plus the name of where it came from (a file path, or "<string>").
struct Document {
  std::string source;
  Value root;
};

// Parses JSON with // and /* */ comments and trailing commas. Duplicate keys are an error, as in
// DeepSpeed's loader. Every value gets its position and path.
Document parse(std::string_view text, std::string source = "<string>");
// The largest JSON file parse_file reads (64 MiB): configs, run files and checkpoint metadata are
// kilobytes; a file this large is a mistake (a data file named as a config), and reading it whole
// would take its size again in memory several times over.
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t{64} << 20;

// Reads and parses a file; a ParseError naming it when it cannot be read, is not a regular file (a
// FIFO, a device: refused at once, never waited on or read) or is over kMaxJsonFileBytes (refused
// with its size before it is read).
Document parse_file(const std::filesystem::path& file);

// Serialises (pretty: two-space indent). Doubles are written so that they read back exactly.
std::string to_string(const Value& v, bool pretty = false);

// "<source>:<line>:<column>" (or just the source when the position is unknown).
std::string where(const std::string& source, Position pos);

// Recomputes the paths of v and everything under it, v's own path being `path`.
void assign_paths(Value& v, const std::string& path);

}  // namespace tandem::json
