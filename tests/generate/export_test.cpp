// `tandem checkpoint export` (tandem/export_hf.hpp): the directory re-loaded through tandem's own
// Hugging Face path (config.json for the shape, Engine::load_weights for the tensors) gives the
// checkpoint's logits bit for bit in fp32, and those of the bf16-rounded weights in bf16; config.json
// holds what GPT2LMHeadModel needs; OUT is never written over without --force, never inside the source,
// and --force leaves a user's other files alone; a model that is not the gpt module's is refused.
#include <gtest/gtest.h>

#include <fstream>

#include "tandem/export_hf.hpp"
#include "tandem/json.hpp"
#include "tandem/safetensors.hpp"
#include "trained_model.hpp"

namespace tandem {
namespace {

std::vector<float> logits_of(Engine& engine, const std::vector<int32_t>& tokens) {
  TokenBatch b;
  b.inputs = tokens;
  b.targets.assign(tokens.size(), -1);
  b.batch = 1;
  b.seq = static_cast<int64_t>(tokens.size());
  return engine.host_logits(engine.forward({b}, false), 0);
}

const std::vector<int32_t> kTokens = {0, 5, 31, 7, 2, 2, 9, 13, 30, 1, 4, 6, 3, 8, 11, 20};

TEST(Export, ReloadedThroughTheHuggingFacePathGivesTheSameLogitsBitForBit) {
  InferenceModel source = test::load_trained();
  const std::vector<float> want = logits_of(source.engine(), kTokens);
  const std::filesystem::path out = test::temp_dir("export-f32") / "hf";
  const ExportReport r = export_hugging_face(source, test::trained_checkpoint(), out, ExportDtype::f32, false);
  EXPECT_EQ(r.files, (std::vector<std::string>{"model.safetensors", "config.json"}));
  EXPECT_EQ(r.tensors, 2u + 2 * 12 + 2);

  InferenceModel back = InferenceModel::load(out);  // no --model: config.json says the shape
  EXPECT_EQ(back.spec_from(), (out / "config.json").string());
  EXPECT_EQ(logits_of(back.engine(), kTokens), want);

  const json::Document config = json::parse_file(out / "config.json");
  auto integer = [&](const char* k) { return config.root.find(k)->as_int(); };
  EXPECT_EQ(integer("n_layer"), 2);
  EXPECT_EQ(integer("n_head"), 2);
  EXPECT_EQ(integer("n_embd"), 16);
  EXPECT_EQ(integer("vocab_size"), 32);
  EXPECT_EQ(integer("n_positions"), 16);
  EXPECT_EQ(config.root.find("activation_function")->as_string(), "gelu_new");
  EXPECT_EQ(config.root.find("layer_norm_epsilon")->as_double(), 1e-5);
  EXPECT_TRUE(config.root.find("tie_word_embeddings")->as_bool());
  EXPECT_EQ(config.root.find("architectures")->items().front().as_string(), "GPT2LMHeadModel");
  // Hugging Face's names and Conv1D layout: [in, out].
  const safetensors::File f = safetensors::File::open(out / "model.safetensors");
  f.expect("transformer.h.1.attn.c_attn.weight", std::vector<int64_t>{16, 48});
  f.expect("transformer.h.0.mlp.c_proj.weight", std::vector<int64_t>{64, 16});
}

TEST(Export, Bf16HoldsTheWeightsRoundedToNearestEven) {
  InferenceModel source = test::load_trained();
  const std::filesystem::path out = test::temp_dir("export-bf16") / "hf";
  export_hugging_face(source, test::trained_checkpoint(), out, ExportDtype::bf16, false);
  const safetensors::File f = safetensors::File::open(out / "model.safetensors");
  const auto params = source.engine().parameters();
  for (const auto& [name, values] : params) {
    const std::vector<float> got = f.read_f32(name);
    ASSERT_EQ(got.size(), values.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], safetensors::bf16_to_f32(safetensors::f32_to_bf16(values[i]))) << name << " " << i;
  }
  InferenceModel back = InferenceModel::load(out);
  EXPECT_NE(logits_of(back.engine(), kTokens), logits_of(source.engine(), kTokens));  // rounded, so not equal
}

TEST(Export, NeverWritesOverAnythingWithoutForceAndNeverIntoTheSource) {
  InferenceModel source = test::load_trained();
  const std::filesystem::path out = test::temp_dir("export-refusals");
  { std::ofstream(out / "notes.txt") << "mine"; }
  try {
    export_hugging_face(source, test::trained_checkpoint(), out, ExportDtype::f32, false);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory that is not empty"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(out / "model.safetensors"));
  export_hugging_face(source, test::trained_checkpoint(), out, ExportDtype::f32, true);
  EXPECT_TRUE(std::filesystem::exists(out / "model.safetensors"));
  std::ifstream notes(out / "notes.txt");
  std::string text;
  notes >> text;
  EXPECT_EQ(text, "mine");  // --force replaced only what export writes

  { std::ofstream(out / "a-file") << "x"; }
  EXPECT_THROW(check_export_directory(out / "a-file", true), std::invalid_argument);
  // Into the checkpoint itself, even with --force: its model.safetensors would be replaced.
  const auto before = std::filesystem::file_size(test::trained_checkpoint() / "model.safetensors");
  try {
    export_hugging_face(source, test::trained_checkpoint(), test::trained_checkpoint(), ExportDtype::bf16, true);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("is inside the source"), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::filesystem::file_size(test::trained_checkpoint() / "model.safetensors"), before);
}

TEST(Export, RefusesAModelThatIsNotTheGptModules) {
  // The stand-in GPU's fixture model: GPT-2's tensors, but another module type.
  ModelSpec other = test::tiny_shape();
  other.type = "standin_gpt";
  InferenceModel m = InferenceModel::load(test::trained_checkpoint(), {.model = other, .module_path = {STANDIN_FIXTURE_DIR}});
  const std::filesystem::path out = test::temp_dir("export-other") / "hf";
  try {
    export_hugging_face(m, test::trained_checkpoint(), out, ExportDtype::f32, false);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("a 'standin_gpt' model is not GPT-2-shaped"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace tandem
