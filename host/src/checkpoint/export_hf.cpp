// Export to a Hugging Face GPT-2 directory (tandem/export_hf.hpp).
#include "tandem/export_hf.hpp"

#include <algorithm>
#include <stdexcept>

#include "io/atomic_file.hpp"
#include "io/output_path.hpp"
#include "tandem/json.hpp"
#include "tandem/safetensors.hpp"

namespace tandem {

namespace {

constexpr const char* kTokenizerFiles[] = {"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                                           "special_tokens_map.json"};

int64_t param_of(const ModelSpec& spec, const char* key, int64_t fallback) {
  const json::Value* v = spec.params.find(key);
  return v != nullptr && v->is_int() ? v->as_int() : fallback;
}

// GPT2Config, from the gpt module's params (the module's defaults are GPT-2 124M's, as Hugging Face's).
json::Value gpt2_config(const ModelSpec& spec, ExportDtype dtype) {
  const int64_t n_positions = param_of(spec, "block_size", 1024), vocab = param_of(spec, "vocab_size", 50257);
  json::Value c = json::Value::object();
  json::Value arch = json::Value::array();
  arch.push_back(json::Value::string("GPT2LMHeadModel"));
  c.set("architectures", std::move(arch));
  c.set("model_type", json::Value::string("gpt2"));
  c.set("n_embd", json::Value::integer(param_of(spec, "n_embd", 768)));
  c.set("n_layer", json::Value::integer(param_of(spec, "n_layer", 12)));
  c.set("n_head", json::Value::integer(param_of(spec, "n_head", 12)));
  c.set("n_positions", json::Value::integer(n_positions));
  c.set("n_ctx", json::Value::integer(n_positions));
  c.set("vocab_size", json::Value::integer(vocab));
  c.set("layer_norm_epsilon", json::Value::number(1e-5));
  c.set("activation_function", json::Value::string("gelu_new"));  // GELU with the tanh approximation
  c.set("tie_word_embeddings", json::Value::boolean(true));
  c.set("scale_attn_weights", json::Value::boolean(true));
  for (const char* p : {"resid_pdrop", "embd_pdrop", "attn_pdrop"}) c.set(p, json::Value::number(0.0));
  if (vocab == 50257) {  // GPT-2's own vocabulary: its <|endoftext|>
    c.set("bos_token_id", json::Value::integer(50256));
    c.set("eos_token_id", json::Value::integer(50256));
  }
  c.set("torch_dtype", json::Value::string(dtype == ExportDtype::bf16 ? "bfloat16" : "float32"));
  return c;
}

}  // namespace

void check_export_directory(const std::filesystem::path& out, bool force) {
  if (const auto kind = io::irregular_kind(out); kind && *kind != "a directory")
    throw std::invalid_argument("OUT " + out.string() + " is " + *kind + ", not a directory; name a new directory");
  if (!std::filesystem::exists(out)) return;
  if (!std::filesystem::is_directory(out))
    throw std::invalid_argument("OUT " + out.string() + " is a file; name a new or empty directory (nothing was written)");
  if (!std::filesystem::is_empty(out) && !force)
    throw std::invalid_argument("OUT " + out.string() +
                                " is a directory that is not empty: name a new or empty one, or pass --force to "
                                "replace model.safetensors, config.json and tokenizer files there (nothing else in "
                                "it is touched; nothing was written)");
}

ExportReport export_hugging_face(InferenceModel& model, const std::filesystem::path& source,
                                 const std::filesystem::path& out, ExportDtype dtype, bool force) {
  check_export_directory(out, force);
  // Never into what is being read: --force would replace the source's own model.safetensors.
  for (const std::filesystem::path& from : {source, model.checkpoint().value_or(source)}) {
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::is_directory(from) ? from : from.parent_path();
    const std::filesystem::path a = std::filesystem::weakly_canonical(out, ec), b = std::filesystem::weakly_canonical(dir, ec);
    if (!ec && std::mismatch(b.begin(), b.end(), a.begin(), a.end()).first == b.end())
      throw std::invalid_argument("OUT " + out.string() + " is inside the source " + dir.string() +
                                  "; export somewhere else (nothing was written)");
  }
  if (model.spec().type != "gpt")
    throw std::invalid_argument(source.string() + ": a '" + model.spec().type +
                                "' model is not GPT-2-shaped; export writes GPT2LMHeadModel directories, from the "
                                "gpt module's models only (nothing was written)");
  const auto params = model.engine().parameters();
  std::vector<safetensors::TensorData> tensors;
  // bf16_tensor keeps a view of its bits: they must live until the file is written.
  std::vector<std::vector<uint16_t>> bf16_bits(params.size());
  ExportReport report;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, values] = params[i];
    if (name.rfind("transformer.", 0) != 0)
      throw std::invalid_argument(source.string() + ": parameter " + name +
                                  " is not one of GPT2LMHeadModel's (nothing was written)");
    const std::vector<int64_t> shape = model.engine().parameter_shape(i);
    if (dtype == ExportDtype::bf16) {
      bf16_bits[i] = safetensors::to_bf16(values);
      tensors.push_back(safetensors::bf16_tensor(name, shape, bf16_bits[i]));
    } else {
      tensors.push_back(safetensors::f32_tensor(name, shape, values));
    }
    report.parameters += static_cast<int64_t>(values.size());
  }
  report.tensors = tensors.size();

  std::filesystem::create_directories(out);
  safetensors::write(out / "model.safetensors", tensors, {{"format", "pt"}, {"producer", "tandem checkpoint export"}});
  report.files.push_back("model.safetensors");
  const std::string config = json::to_string(gpt2_config(model.spec(), dtype), true) + "\n";
  io::write_atomically(out / "config.json", [&](io::FileSink& sink) { sink.write(config.data(), config.size()); });
  report.files.push_back("config.json");
  const std::filesystem::path beside =
      std::filesystem::is_directory(source) ? source : source.parent_path();
  for (const char* name : kTokenizerFiles) {
    if (!std::filesystem::is_regular_file(beside / name)) continue;
    if (std::filesystem::exists(out / name) && std::filesystem::equivalent(beside / name, out / name)) continue;
    std::filesystem::copy_file(beside / name, out / name, std::filesystem::copy_options::overwrite_existing);
    report.files.push_back(name);
  }
  return report;
}

}  // namespace tandem
