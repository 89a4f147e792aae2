// Loading a byte-level BPE tokenizer from GPT-2's encoder.json + vocab.bpe or from a Hugging Face
// tokenizer.json (tandem/tokenizer.hpp). Every refusal names the file, with line:column where the
// entry has one, and what to do.
#include <system_error>

#include "io/regular_file.hpp"
#include "tandem/json.hpp"
#include "tandem/tokenizer.hpp"
#include "text/bpe_model.hpp"

namespace tandem::text {

namespace {

namespace fs = std::filesystem;

// vocab.bpe is 456 KB for GPT-2; a merges file past this is a wrong file named by mistake.
constexpr uint64_t kMaxMergesBytes = uint64_t{256} << 20;

json::Document parse_json(const fs::path& file, const char* what) {
  try {
    return json::parse_file(file);
  } catch (const json::ParseError& e) {
    // The parser's message already reads file:line:column: reason.
    throw TokenizerError(json::where(e.source(), e.position()), e.reason() + " (" + what + ")");
  }
}

std::string at(const json::Document& doc, const json::Value& v) { return json::where(doc.source, v.position()); }

// encoder.json / tokenizer.json's model.vocab: an object of token string -> id.
void read_vocab(const json::Document& doc, const json::Value& vocab, BpeModelBuilder& builder) {
  if (!vocab.is_object())
    throw TokenizerError(at(doc, vocab), "the vocabulary is " + vocab.type_name() + "; it must be an object of token -> id");
  if (vocab.members().empty()) throw TokenizerError(at(doc, vocab), "the vocabulary is empty");
  for (const auto& [token, id] : vocab.members()) {
    if (!id.is_int())
      throw TokenizerError(at(doc, id), "token \"" + token + "\" has " + id.type_name() + " for its id, not an integer");
    builder.add_token(token, id.as_int(), at(doc, id));
  }
}

std::string read_text_file(const fs::path& file, uint64_t max_bytes, const char* what) {
  try {
    return io::RegularFile::open_for_reading(file, max_bytes, what).read_all();
  } catch (const io::FileRefusal& e) {
    throw TokenizerError(file.string(), e.why() == io::FileRefusal::Why::missing ? "no such file (" + std::string(what) + ")"
                                                                                 : e.reason());
  }
}

// vocab.bpe: "#version: 0.2", then one merge a line, "A B" (the two tokens in byte-level characters).
void read_merges_file(const fs::path& file, BpeModelBuilder& builder) {
  const std::string text = read_text_file(file, kMaxMergesBytes, "GPT-2's merges, vocab.bpe");
  size_t line_no = 0;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const std::string where = file.string() + ":" + std::to_string(line_no);
    const size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw TokenizerError(where, "a merge is two tokens separated by one space, got \"" + std::string(line) + "\"");
    builder.add_merge(line.substr(0, space), line.substr(space + 1), where);
  }
}

// model.merges: ["A B", ...] (tokenizers before 0.20) or [["A", "B"], ...] (0.20 and later).
void read_json_merges(const json::Document& doc, const json::Value& merges, BpeModelBuilder& builder) {
  if (!merges.is_array()) throw TokenizerError(at(doc, merges), "model.merges must be an array, got " + merges.type_name());
  for (const json::Value& m : merges.items()) {
    if (m.is_string()) {
      const std::string& s = m.as_string();
      const size_t space = s.find(' ');
      if (space == 0 || space == std::string::npos || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos)
        throw TokenizerError(at(doc, m), "a merge is two tokens separated by one space, got \"" + s + "\"");
      builder.add_merge(std::string_view(s).substr(0, space), std::string_view(s).substr(space + 1), at(doc, m));
    } else if (m.is_array() && m.items().size() == 2 && m.items()[0].is_string() && m.items()[1].is_string()) {
      builder.add_merge(m.items()[0].as_string(), m.items()[1].as_string(), at(doc, m));
    } else {
      throw TokenizerError(at(doc, m), "a merge is \"A B\" or [\"A\", \"B\"], got " + json::to_string(m));
    }
  }
}

[[noreturn]] void unsupported(const json::Document& doc, const json::Value& v, const std::string& what) {
  throw TokenizerError(at(doc, v), what + ": tandem's tokenizer is GPT-2's byte-level BPE and would give other ids "
                                          "than this tokenizer; use a byte-level BPE tokenizer.json (GPT-2's, RoBERTa's, "
                                          "Llama 3's) or GPT-2's encoder.json and vocab.bpe");
}

const json::Value* member(const json::Value& v, std::string_view key) { return v.is_object() ? v.find(key) : nullptr; }

bool flag(const json::Document& doc, const json::Value& object, std::string_view key, bool fallback) {
  const json::Value* v = member(object, key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_bool()) throw TokenizerError(at(doc, *v), std::string(key) + " must be true or false, got " + v->type_name());
  return v->as_bool();
}

struct PreTokenizerChoice {
  std::unique_ptr<Pretokenizer> pretokenizer;
  bool add_prefix_space = false;
};

PreTokenizerChoice byte_level(const json::Document& doc, const json::Value& p, std::unique_ptr<Pretokenizer> split) {
  PreTokenizerChoice c;
  c.add_prefix_space = flag(doc, p, "add_prefix_space", true);
  if (flag(doc, p, "use_regex", true)) {
    if (split) unsupported(doc, p, "a Split pre-tokenizer followed by a ByteLevel one that splits again (use_regex true)");
    c.pretokenizer = std::make_unique<Pretokenizer>(kGpt2Pattern, at(doc, p));
  } else {
    c.pretokenizer = std::move(split);
  }
  return c;
}

// A Split by a regex that keeps each match as a piece ("Isolated", not inverted).
std::unique_ptr<Pretokenizer> regex_split(const json::Document& doc, const json::Value& p) {
  const json::Value* pattern = member(p, "pattern");
  const json::Value* regex = pattern ? member(*pattern, "Regex") : nullptr;
  if (regex == nullptr || !regex->is_string()) unsupported(doc, p, "a Split pre-tokenizer without {\"Regex\": ...}");
  const json::Value* behavior = member(p, "behavior");
  if (behavior == nullptr || !behavior->is_string() || behavior->as_string() != "Isolated")
    unsupported(doc, behavior ? *behavior : p, "a Split pre-tokenizer whose behavior is not \"Isolated\"");
  if (flag(doc, p, "invert", false)) unsupported(doc, p, "an inverted Split pre-tokenizer");
  return std::make_unique<Pretokenizer>(regex->as_string(), at(doc, *regex));
}

std::string type_of(const json::Value& v) {
  const json::Value* t = member(v, "type");
  return t && t->is_string() ? t->as_string() : std::string();
}

PreTokenizerChoice read_pretokenizer(const json::Document& doc, const json::Value& p) {
  const std::string type = type_of(p);
  if (type == "ByteLevel") return byte_level(doc, p, nullptr);
  if (type == "Sequence") {
    const json::Value* steps = member(p, "pretokenizers");
    if (steps && steps->is_array() && steps->items().size() == 2 && type_of(steps->items()[0]) == "Split" &&
        type_of(steps->items()[1]) == "ByteLevel")
      return byte_level(doc, steps->items()[1], regex_split(doc, steps->items()[0]));
    unsupported(doc, p, "a Sequence pre-tokenizer other than [Split by a regex, ByteLevel]");
  }
  unsupported(doc, p, "pre_tokenizer " + (p.is_null() ? std::string("null") : "\"" + type + "\""));
}

}  // namespace

Tokenizer Tokenizer::from_gpt2_files(const fs::path& encoder_json, const fs::path& vocab_bpe) {
  BpeModelBuilder builder(encoder_json.string() + " + " + vocab_bpe.string());
  if (!fs::exists(encoder_json)) throw TokenizerError(encoder_json.string(), "no such file (GPT-2's encoder.json)");
  const json::Document doc = parse_json(encoder_json, "GPT-2's encoder.json");
  read_vocab(doc, doc.root, builder);
  read_merges_file(vocab_bpe, builder);
  return Tokenizer(builder.finish(std::make_unique<Pretokenizer>(kGpt2Pattern, "GPT-2's pattern"), false,
                                  encoder_json.string()));
}

Tokenizer Tokenizer::from_tokenizer_json(const fs::path& tokenizer_json) {
  if (!fs::exists(tokenizer_json)) throw TokenizerError(tokenizer_json.string(), "no such file (a tokenizer.json)");
  const json::Document doc = parse_json(tokenizer_json, "a Hugging Face tokenizer.json");
  if (!doc.root.is_object()) throw TokenizerError(at(doc, doc.root), "a tokenizer.json is a JSON object");
  const json::Value* model = doc.root.find("model");
  if (model == nullptr || !model->is_object()) throw TokenizerError(at(doc, doc.root), "no \"model\" object: not a tokenizer.json");
  const std::string type = type_of(*model);
  // Hugging Face writes "type" for every model; files from before tokenizers 0.9 may leave it out.
  if (!type.empty() && type != "BPE") unsupported(doc, *model, "model type \"" + type + "\" (not BPE)");
  if (const json::Value* n = doc.root.find("normalizer"); n && !n->is_null()) unsupported(doc, *n, "a normalizer");
  if (const json::Value* d = model->find("dropout"); d && !d->is_null()) unsupported(doc, *d, "BPE dropout");
  if (flag(doc, *model, "byte_fallback", false)) unsupported(doc, *model->find("byte_fallback"), "byte_fallback");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const json::Value* v = model->find(key); v && v->is_string() && !v->as_string().empty())
      unsupported(doc, *v, std::string(key) + " \"" + v->as_string() + "\"");
  const json::Value* vocab = model->find("vocab");
  const json::Value* merges = model->find("merges");
  if (vocab == nullptr || merges == nullptr)
    throw TokenizerError(at(doc, *model), "model needs \"vocab\" and \"merges\"");
  const json::Value* pre = doc.root.find("pre_tokenizer");
  const json::Value null_value;
  PreTokenizerChoice choice = read_pretokenizer(doc, pre ? *pre : null_value);

  BpeModelBuilder builder(tokenizer_json.string());
  read_vocab(doc, *vocab, builder);
  read_json_merges(doc, *merges, builder);
  if (const json::Value* added = doc.root.find("added_tokens"); added && added->is_array())
    for (const json::Value& t : added->items()) {
      const json::Value* id = member(t, "id");
      const json::Value* content = member(t, "content");
      if (id == nullptr || !id->is_int() || content == nullptr || !content->is_string())
        throw TokenizerError(at(doc, t), "an added token needs an integer \"id\" and a string \"content\"");
      builder.add_special(content->as_string(), id->as_int(), at(doc, t));
    }
  return Tokenizer(builder.finish(std::move(choice.pretokenizer), choice.add_prefix_space, at(doc, *vocab)));
}

Tokenizer Tokenizer::load(const fs::path& file_or_dir) {
  std::error_code ec;
  if (!fs::exists(file_or_dir, ec))
    throw TokenizerError(file_or_dir.string(), "no such file or directory (a tokenizer: a tokenizer.json, or a directory "
                                               "with tokenizer.json or encoder.json and vocab.bpe)");
  if (!fs::is_directory(file_or_dir, ec)) return from_tokenizer_json(file_or_dir);
  if (fs::exists(file_or_dir / "tokenizer.json", ec)) return from_tokenizer_json(file_or_dir / "tokenizer.json");
  if (fs::exists(file_or_dir / "encoder.json", ec) || fs::exists(file_or_dir / "vocab.bpe", ec))
    return from_gpt2_files(file_or_dir / "encoder.json", file_or_dir / "vocab.bpe");
  throw TokenizerError(file_or_dir.string(), "the directory holds neither tokenizer.json nor encoder.json and vocab.bpe");
}

}  // namespace tandem::text
