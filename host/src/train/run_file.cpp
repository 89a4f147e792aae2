// Reading a run file of `tandem train` (train.hpp): every key checked, every error at its
// line:column. The checks and the sections shared with `tandem distill` are in run_file_reader.
#include "tandem/train.hpp"
#include "train/run_file_reader.hpp"

namespace tandem {

RunFile load_run_file(const std::filesystem::path& path) {
  const json::Document doc = json::parse_file(path);
  RunFileReader in(doc, path);
  RunFile run;
  run.source = path.string();
  run.model = read_model(in, in.required("model"), run.source);
  read_deepspeed(in, in.required("deepspeed"), run.source, run.deepspeed, run.deepspeed_source);
  read_training_keys(in, run);
  in.refuse_unknown_keys(std::string("model, deepspeed, ") + kTrainingKeys);
  return run;
}

}  // namespace tandem
