// Checkpoints under ZeRO: each engine saves its own partitions with the layout recorded, and
// `tandem checkpoint consolidate` rebuilds one full fp32 model from them. The rebuilt model must be
// bit for bit the engine's own model.safetensors, for every stage this build has and for world
// sizes that do and do not divide the groups (padding); broken checkpoints are refused by name.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <fstream>

#include "distill_support.hpp"
#include "tandem/checkpoint.hpp"
#include "tandem/checkpoint_manifest.hpp"
#include "tandem/safetensors.hpp"

namespace tandem {
namespace {

// An engine of `world` ranks under `stage`, trained two steps, saved into a fresh directory.
std::filesystem::path trained_checkpoint(int stage, int world, const std::string& name, bool frozen = false) {
  State::reset();
  AcceleratorOptions options;
  options.world_size = world;
  Accelerator accelerator({{"model", DeepSpeedPlugin(frozen ? test::frozen_config(stage) : test::trained_config(stage))}},
                          options);
  PrepareInputs in;
  in.model = test::gpt(2, 8, 3);
  in.micro_batch = 2;
  Prepared p = accelerator.prepare(in);
  if (!frozen)
    for (uint64_t s = 0; s < 2; ++s) {
      const auto b = test::batches(world, 50 + s);
      p.engine()->forward(b, true);
      p.engine()->backward(LossSpec{&b});
      p.engine()->step();
    }
  const auto dir = test::temp_dir(name);
  p.engine()->save(dir);
  return dir;
}

// Every tensor of `expected` is in `actual` with the same shape and the same bits, and nothing else.
void expect_same_model(const std::filesystem::path& actual, const std::filesystem::path& expected) {
  const safetensors::File a = safetensors::File::open(actual);
  const safetensors::File e = safetensors::File::open(expected);
  ASSERT_EQ(a.tensors().size(), e.tensors().size());
  for (const safetensors::TensorInfo& t : e.tensors()) {
    const safetensors::TensorInfo* found = a.find(t.name);
    ASSERT_NE(found, nullptr) << t.name;
    EXPECT_EQ(found->dtype, safetensors::Dtype::F32);
    EXPECT_EQ(found->shape, t.shape) << t.name;
    const std::vector<float> x = a.read_f32(t.name), y = e.read_f32(t.name);
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << t.name;
  }
}

std::string consolidate_error(const std::filesystem::path& dir) {
  try {
    consolidate_checkpoint(dir, dir / "out.safetensors");
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

// Rewrites a rank file with `edit` applied to its tensors and metadata.
void rewrite_rank_file(const std::filesystem::path& file,
                       const std::function<void(std::vector<std::pair<std::string, std::vector<float>>>&,
                                                safetensors::Metadata&)>& edit) {
  std::vector<std::pair<std::string, std::vector<float>>> tensors;
  safetensors::Metadata meta;
  std::vector<std::vector<int64_t>> shapes;
  {
    const safetensors::File f = safetensors::File::open(file);
    for (const auto& t : f.tensors()) tensors.emplace_back(t.name, f.read_f32(t.name));
    meta = f.metadata();
  }
  edit(tensors, meta);
  std::vector<safetensors::TensorData> data;
  for (const auto& [name, values] : tensors)
    data.push_back(safetensors::f32_tensor(name, {static_cast<int64_t>(values.size())}, values));
  safetensors::write(file, data, meta);
  // A deliberate edit: the manifest vouches for it, so that consolidation's own checks are tested.
  write_checkpoint_manifest(file.parent_path());
}

TEST(Consolidate, EveryStageAndWorldSizeRebuildsTheModelBitForBit) {
  for (int stage : test::available_stages())
    for (int world : {1, 2, 3}) {
      SCOPED_TRACE("ZeRO-" + std::to_string(stage) + ", " + std::to_string(world) + " ranks");
      const auto dir = trained_checkpoint(stage, world, "consolidate");
      // The layout is recorded: each rank's shard with its offset and its buffer's padded size.
      const safetensors::File rank0 = safetensors::File::open(dir / "rank0.safetensors");
      ASSERT_NE(rank0.metadata_value("master.0.offset"), nullptr);
      ASSERT_NE(rank0.metadata_value("master.0.padded"), nullptr);
      const ConsolidateReport r = consolidate_checkpoint(dir, dir / "full.safetensors");
      EXPECT_TRUE(r.from_shards);
      EXPECT_EQ(r.stage, stage);
      EXPECT_EQ(r.world_size, world);
      expect_same_model(dir / "full.safetensors", dir / "model.safetensors");
      std::filesystem::remove_all(dir);
    }
}

TEST(Consolidate, AForwardOnlyCheckpointIsItsModelFile) {
  const int stage = test::has_stage(3) ? 3 : 0;
  const auto dir = trained_checkpoint(stage, 2, "consolidate-frozen", true);
  const ConsolidateReport r = consolidate_checkpoint(dir, dir / "full.safetensors");
  EXPECT_FALSE(r.from_shards);
  expect_same_model(dir / "full.safetensors", dir / "model.safetensors");
  std::filesystem::remove_all(dir);
}

TEST(Consolidate, ACheckpointDirectoryIsFollowedToItsLatest) {
  const auto dir = trained_checkpoint(0, 2, "consolidate-latest");
  const auto parent = test::temp_dir("consolidate-parent");
  std::filesystem::rename(dir, parent / "step-00000002");
  std::ofstream(parent / "latest") << "step-00000002\n";
  consolidate_checkpoint(parent, parent / "full.safetensors");
  expect_same_model(parent / "full.safetensors", parent / "step-00000002" / "model.safetensors");
  std::filesystem::remove_all(parent);
}

TEST(Consolidate, BrokenCheckpointsAreRefusedByName) {
  const int stage = test::available_stages().back();
  {
    const auto dir = trained_checkpoint(stage, 2, "consolidate-missing");
    std::filesystem::remove(dir / "rank1.safetensors");
    const std::string e = consolidate_error(dir);
    EXPECT_NE(e.find("rank1.safetensors"), std::string::npos) << e;
    std::filesystem::remove_all(dir);
  }
  {
    const auto dir = trained_checkpoint(stage, 2, "consolidate-padded");
    rewrite_rank_file(dir / "rank1.safetensors", [](auto&, safetensors::Metadata& meta) {
      for (auto& [key, value] : meta)
        if (key == "master.0.padded") value = std::to_string(std::stoull(value) + 2);
    });
    const std::string e = consolidate_error(dir);
    EXPECT_NE(e.find("rank1.safetensors: master.0 belongs to a buffer of"), std::string::npos) << e;
    std::filesystem::remove_all(dir);
  }
  {
    // Under ZeRO-0 every rank holds the whole buffer: two ranks that disagree are refused.
    const auto dir = trained_checkpoint(0, 2, "consolidate-disagree");
    rewrite_rank_file(dir / "rank1.safetensors", [](auto& tensors, auto&) {
      for (auto& [name, values] : tensors)
        if (name == "master.0") values[3] += 1.0f;
    });
    const std::string e = consolidate_error(dir);
    EXPECT_NE(e.find("master.0 element 3"), std::string::npos) << e;
    EXPECT_NE(e.find("must agree"), std::string::npos) << e;
    std::filesystem::remove_all(dir);
  }
  EXPECT_NE(consolidate_error(test::temp_dir("consolidate-empty")).find("not an engine checkpoint"), std::string::npos);
}

TEST(Consolidate, TheCommandWritesTheModelAndRefusesBadInputWithTwo) {
  const auto dir = trained_checkpoint(test::available_stages().back(), 2, "consolidate-cli");
  const std::string tandem = std::string(TANDEM_TEST_BINARY_DIR) + "/bin/tandem";
  const std::string ok = tandem + " checkpoint consolidate " + dir.string() + " " + (dir / "cli.safetensors").string() +
                         " > " + (dir / "stdout.txt").string();
  ASSERT_EQ(WEXITSTATUS(std::system(ok.c_str())), 0);
  expect_same_model(dir / "cli.safetensors", dir / "model.safetensors");
  const std::string bad = tandem + " checkpoint consolidate " + (dir / "nowhere").string() + " " +
                          (dir / "x.safetensors").string() + " 2> /dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem
