// The run-file reader's checks and the sections shared by `tandem train` and `tandem distill`.
#include "train/run_file_reader.hpp"

#include <sstream>

namespace tandem {

RunFileReader::RunFileReader(const json::Document& doc, const std::filesystem::path& file)
    : doc_(doc), base_(file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path()) {
  if (!doc.root.is_object())
    throw std::invalid_argument(json::where(doc.source, doc.root.position()) + ": a run file is a JSON object");
}

void RunFileReader::fail(const json::Value& at, const std::string& message) const {
  throw std::invalid_argument(json::where(doc_.source, at.position()) + ": " +
                              (at.path().empty() ? "" : at.path() + ": ") + message);
}

const json::Value* RunFileReader::get(const char* key) {
  seen_.insert(key);
  return doc_.root.find(key);
}

const json::Value& RunFileReader::required(const char* key) {
  const json::Value* v = get(key);
  if (v == nullptr) fail(doc_.root, std::string("the run file needs \"") + key + "\"");
  return *v;
}

void RunFileReader::refuse_unknown_keys(const std::string& known) const {
  for (const auto& [key, value] : doc_.root.members())
    if (!seen_.count(key)) fail(value, "unknown key; the run file's keys are " + known);
}

void RunFileReader::refuse_unknown_members(const json::Value& object, const std::string& allowed,
                                           const std::string& what) const {
  std::set<std::string> names;
  std::istringstream words(allowed);
  for (std::string w; words >> w;) names.insert(w);
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  for (const auto& [key, value] : object.members())
    if (!names.count(key)) fail(value, "unknown key in " + what + " (" + list + ")");
}

int64_t RunFileReader::integer(const json::Value& v, int64_t min) const {
  if (!v.is_integral()) fail(v, "expected an integer, got " + v.type_name());
  if (v.as_int() < min) fail(v, "must be at least " + std::to_string(min) + ", got " + std::to_string(v.as_int()));
  return v.as_int();
}

double RunFileReader::number(const json::Value& v, double min, double max) const {
  if (!v.is_number()) fail(v, "expected a number, got " + v.type_name());
  const double d = v.as_double();
  if (!(d >= min && d <= max))
    fail(v, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(d));
  return d;
}

bool RunFileReader::boolean(const json::Value& v) const {
  if (!v.is_bool()) fail(v, "expected true or false, got " + v.type_name());
  return v.as_bool();
}

std::string RunFileReader::string(const json::Value& v) const {
  if (!v.is_string() || v.as_string().empty()) fail(v, "expected a non-empty string, got " + v.type_name());
  return v.as_string();
}

std::filesystem::path RunFileReader::path(const json::Value& v) const {
  const std::filesystem::path p = string(v);
  return (p.is_absolute() ? p : base_ / p).lexically_normal();
}

ModelSpec read_model(const RunFileReader& in, const json::Value& model, const std::string& source) {
  if (!model.is_object()) in.fail(model, "expected {\"type\": ..., \"params\": {...}}");
  for (const auto& [key, value] : model.members())
    if (key != "type" && key != "params") in.fail(value, "unknown key in \"model\" (type, params)");
  const json::Value* type = model.find("type");
  if (type == nullptr) in.fail(model, "the model needs a \"type\" (e.g. \"gpt\")");
  ModelSpec spec;
  spec.type = in.string(*type);
  if (const json::Value* params = model.find("params")) {
    if (!params->is_object()) in.fail(*params, "expected an object of the model's parameters");
    spec.params = *params;
  }
  spec.source = source;
  return spec;
}

void read_deepspeed(const RunFileReader& in, const json::Value& value, const std::string& run_source,
                    json::Value& inline_config, std::string& source) {
  if (value.is_object()) {
    inline_config = value;
    source = run_source;
  } else {
    source = in.path(value).string();
  }
}

void read_training_keys(RunFileReader& in, RunFile& run) {
  const json::Value& data = in.required("data");
  if (!data.is_object()) in.fail(data, "expected {\"path\": ...} or {\"train\": ..., \"val\": ...}");
  in.refuse_unknown_members(data, "path train val format val_fraction", "\"data\"");
  // "train" and "path" are the same key ("path" came first); "val" is a file or shards of its own.
  const json::Value* data_path = data.find("path");
  const json::Value* train = data.find("train");
  if (data_path != nullptr && train != nullptr)
    in.fail(*train, "\"train\" and \"path\" both name the training data: keep one");
  if (train != nullptr) data_path = train;
  if (data_path == nullptr)
    in.fail(data, "the data needs a \"train\" (or \"path\"): a file, a glob of shards such as \"train_*.bin\", or \"kjv\"");
  run.data = in.string(*data_path) == "kjv" ? std::filesystem::path("kjv") : in.path(*data_path);
  if (const json::Value* val = data.find("val")) {
    if (const json::Value* f = data.find("val_fraction"))
      in.fail(*f, "\"val\" names the validation data: leave \"val_fraction\" out (it splits the training data instead)");
    run.val_data = in.path(*val);
    run.val_fraction = 0;
  }
  if (const json::Value* f = data.find("format")) {
    run.data_format = in.string(*f);
    if (run.data_format != "auto" && run.data_format != "text" && run.data_format != "llmc" && run.data_format != "raw")
      in.fail(*f, "the format is auto, text, llmc or raw");
  }
  if (const json::Value* v = data.find("val_fraction")) run.val_fraction = in.number(*v, 0.0, 0.5);

  if (const json::Value* v = in.get("ranks")) run.ranks = in.integer(*v, 1);
  if (const json::Value* v = in.get("device")) {
    const std::string device = in.string(*v);
    if (device != "cpu" && device != "cuda") in.fail(*v, "the device is \"cpu\" or \"cuda\"");
    run.device = device == "cuda" ? RunDevice::cuda : RunDevice::cpu;
    if (run.device == RunDevice::cuda && run.ranks != 1)
      in.fail(*v, "a \"cuda\" run is one rank per process (\"ranks\" counts CPU thread-ranks): leave \"ranks\" at 1");
  }
  run.steps = in.integer(in.required("steps"), 1);
  if (const json::Value* v = in.get("seq_len")) run.seq_len = in.integer(*v, 1);
  if (const json::Value* v = in.get("micro_batch")) run.micro_batch = in.integer(*v, 1);
  if (const json::Value* v = in.get("lr")) run.lr = in.number(*v, 0.0, 10.0);
  if (const json::Value* v = in.get("weight_decay")) run.weight_decay = in.number(*v, 0.0, 10.0);
  if (const json::Value* v = in.get("warmup_steps")) run.warmup_steps = in.integer(*v, 0);
  if (const json::Value* v = in.get("seed")) run.seed = static_cast<uint64_t>(in.integer(*v, 0));
  if (const json::Value* v = in.get("eval_interval")) run.eval_interval = in.integer(*v, 0);
  if (const json::Value* v = in.get("eval_batches")) run.eval_batches = in.integer(*v, 1);
  if (const json::Value* v = in.get("checkpoint_dir")) run.checkpoint_dir = in.path(*v);
  if (const json::Value* v = in.get("checkpoint_interval")) run.checkpoint_interval = in.integer(*v, 0);
  if (const json::Value* v = in.get("keep_checkpoints")) run.keep_checkpoints = in.integer(*v, 1);
  if (const json::Value* v = in.get("max_nonfinite_steps")) run.max_nonfinite_steps = in.integer(*v, 0);
  if (const json::Value* v = in.get("metrics")) run.metrics = in.path(*v);
  run.cache_dir = in.base() / ".data-cache";
  if (const json::Value* v = in.get("data_cache")) run.cache_dir = in.path(*v);
  if (const json::Value* v = in.get("init_from")) run.init_from = in.path(*v);
  run.model.seed = run.seed;
}

}  // namespace tandem
