// LlamaModel: logits against the independent reference (llama_reference.hpp) for Llama (GQA,
// untied), Llama (attention_bias, tied) and Qwen2, in double and in float; the whole backward against
// central finite differences in double for every element of every parameter of each variant, also
// through CE + distillation KL; determinism across thread counts; causality and inference ==
// training; gradient accumulation; the ParamAccess call order tied and untied; errors with context.
#include <gtest/gtest.h>

#include <oneapi/tbb/task_arena.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "llama_model.hpp"
#include "llama_test_util.hpp"
#include "tandem/compute/losses.hpp"

namespace tandem::llama {
namespace {

using compute::DType;
using compute::ResidentParams;
using compute::TensorView;

std::vector<double> random_vector(size_t n, uint64_t stream) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = compute::normal(555, stream, i);
  return v;
}

template <class T>
std::vector<T> copy_of(const TensorView& v) {
  const T* p = v.as<T>();
  return std::vector<T>(p, p + v.numel());
}

struct Variant {
  const char* name;
  LlamaConfig (*make)();
};
const Variant kVariants[] = {{"llama_gqa_untied", test::tiny_llama},
                             {"llama_bias_tied", test::tiny_llama_tied_bias},
                             {"qwen2_gqa", test::tiny_qwen2}};

class LlamaVariants : public ::testing::TestWithParam<Variant> {};
INSTANTIATE_TEST_SUITE_P(Families, LlamaVariants, ::testing::ValuesIn(kVariants),
                         [](const ::testing::TestParamInfo<Variant>& i) { return std::string(i.param.name); });

void expect_all_gradients(ResidentParams& store, const std::function<double()>& loss, double tol, double floor,
                          int stride = 1) {
  const double h = 1e-5;
  for (size_t i = 0; i < store.infos().size(); ++i) {
    double* p = store.param(i).as<double>();
    const double* g = store.grad(i).as<double>();
    const int64_t n = store.param(i).numel();
    int bad = 0;
    std::string first;
    for (int64_t e = 0; e < n; e += stride) {
      const double saved = p[e];
      p[e] = saved + h;
      const double up = loss();
      p[e] = saved - h;
      const double down = loss();
      p[e] = saved;
      const double fd = (up - down) / (2 * h);
      const double rel = std::abs(fd - g[e]) / std::max({std::abs(fd), std::abs(g[e]), floor});
      if (!(rel < tol) && bad++ == 0)
        first = "element " + std::to_string(e) + ": fd " + std::to_string(fd) + " analytic " + std::to_string(g[e]) +
                " rel " + std::to_string(rel);
    }
    EXPECT_EQ(bad, 0) << store.infos()[i].name << ": " << first;
  }
}

TEST_P(LlamaVariants, LogitsEqualTheIndependentReference) {
  const LlamaConfig cfg = GetParam().make();
  const int64_t B = 2, Tn = 6, V = cfg.vocab_size;
  const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 3);
  ResidentParams sd = test::make_store(cfg, DType::f64, 17);
  const std::vector<double> want = test::reference_logits(test::ref_config(cfg), test::weights_of(sd), tokens, B, Tn);
  LlamaModel<double> md(cfg);
  const std::vector<double> got = copy_of<double>(md.forward(sd, tokens.data(), B, Tn, false));
  ASSERT_EQ(got.size(), want.size());
  double scale = 0, err = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    err = std::max(err, std::abs(got[i] - want[i]));
  }
  EXPECT_LT(err / scale, 1e-12) << "double";
  EXPECT_GT(scale, 0.1);  // the logits are not all ~0 (the check would be empty)

  // fp32: the bar the Hugging Face check sets (1e-5 of the largest logit).
  ResidentParams sf = test::make_store(cfg, DType::f32, 17);
  const std::vector<double> want_f = test::reference_logits(test::ref_config(cfg), test::weights_of(sf), tokens, B, Tn);
  LlamaModel<float> mf(cfg);
  const std::vector<float> got_f = copy_of<float>(mf.forward(sf, tokens.data(), B, Tn, false));
  double err_f = 0;
  for (size_t i = 0; i < got_f.size(); ++i) err_f = std::max(err_f, std::abs(double(got_f[i]) - want_f[i]));
  EXPECT_LT(err_f / scale, 1e-5) << "float";
}

TEST_P(LlamaVariants, WholeBackwardMatchesFiniteDifferencesForEveryParameter) {
  const LlamaConfig cfg = GetParam().make();
  for (int64_t Tn : {6, 3}) {
    LlamaModel<double> model(cfg);
    ResidentParams store = test::make_store(cfg, DType::f64, 17);
    const int64_t B = 2, V = cfg.vocab_size;
    const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 3);
    const std::vector<double> r = random_vector(static_cast<size_t>(B * Tn * V), 1);  // loss = sum(logits * r)
    auto loss = [&] {
      const double* z = model.forward(store, tokens.data(), B, Tn, false).as<double>();
      double s = 0;
      for (size_t i = 0; i < r.size(); ++i) s += z[i] * r[i];
      return s;
    };
    model.forward(store, tokens.data(), B, Tn, true);
    model.backward(store, r.data());
    expect_all_gradients(store, loss, 1e-6, 1e-4);
  }
}

TEST(LlamaModel, GradientsThroughCrossEntropyAndDistillationMatchFiniteDifferences) {
  const LlamaConfig cfg = test::tiny_qwen2();
  LlamaModel<double> model(cfg);
  ResidentParams store = test::make_store(cfg, DType::f64, 5);
  const int64_t B = 2, Tn = 5, V = cfg.vocab_size, rows = B * Tn;
  const std::vector<int32_t> tokens = test::random_tokens(rows, V, 11);
  std::vector<int32_t> targets = test::random_tokens(rows, V, 12);
  targets[4] = -100;  // ignored position
  const std::vector<double> teacher = random_vector(static_cast<size_t>(rows * V), 2);
  const compute::Distillation dist{2.0, 0.5};
  const std::vector<double> mean(static_cast<size_t>(rows), 1.0 / double(rows));
  auto loss_and_grad = [&](std::vector<double>* dlogits) {
    const double* z = model.forward(store, tokens.data(), B, Tn, dlogits != nullptr).as<double>();
    std::vector<double> ce(rows), kl(rows);
    compute::cross_entropy_forward(z, targets.data(), ce.data(), rows, V);
    compute::kl_distill_forward(z, teacher.data(), kl.data(), rows, V, dist);
    if (dlogits) {
      dlogits->assign(static_cast<size_t>(rows * V), 0.0);
      compute::cross_entropy_backward(z, targets.data(), mean.data(), dlogits->data(), rows, V);
      compute::kl_distill_backward(z, teacher.data(), mean.data(), dlogits->data(), rows, V, dist);
    }
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += (ce[i] + kl[i]) / double(rows);
    return s;
  };
  std::vector<double> dlogits;
  loss_and_grad(&dlogits);
  model.backward(store, dlogits.data());
  expect_all_gradients(store, [&] { return loss_and_grad(nullptr); }, 1e-6, 1e-4, /*stride=*/3);
}

TEST(LlamaModel, ForwardAndBackwardAreBitwiseDeterministicAcrossThreadCounts) {
  LlamaConfig cfg = test::tiny_qwen2();
  cfg.hidden_size = 64;
  cfg.intermediate_size = 160;
  cfg.vocab_size = 100;
  cfg.max_position_embeddings = 32;
  const int64_t B = 4, Tn = 32, V = cfg.vocab_size;
  const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 8);
  const std::vector<double> r = random_vector(static_cast<size_t>(B * Tn * V), 5);
  const std::vector<float> rf(r.begin(), r.end());
  auto run = [&](int threads) {
    ResidentParams store = test::make_store(cfg, DType::f32, 2);
    LlamaModel<float> model(cfg);
    std::vector<float> out;
    tbb::task_arena(threads).execute([&] {
      out = copy_of<float>(model.forward(store, tokens.data(), B, Tn, true));
      model.backward(store, rf.data());
    });
    const std::vector<float> grads = copy_of<float>(store.grads_flat().view());
    out.insert(out.end(), grads.begin(), grads.end());
    return out;
  };
  const std::vector<float> one = run(1), two = run(2);
  EXPECT_TRUE(one == two) << "1 thread and 2 threads differ";
}

TEST(LlamaModel, IsCausalAndInferenceEqualsTraining) {
  const LlamaConfig cfg = test::tiny_llama();
  const int64_t B = 2, Tn = 6, V = cfg.vocab_size;
  ResidentParams store = test::make_store(cfg, DType::f32, 4);
  LlamaModel<float> model(cfg);
  const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 1);
  const std::vector<float> base = copy_of<float>(model.forward(store, tokens.data(), B, Tn, true));
  EXPECT_TRUE(base == copy_of<float>(model.forward(store, tokens.data(), B, Tn, false)));
  for (int64_t t = 0; t + 1 < Tn; ++t) {
    std::vector<int32_t> changed = tokens;
    changed[static_cast<size_t>(t + 1)] = (changed[static_cast<size_t>(t + 1)] + 1) % static_cast<int32_t>(V);
    const std::vector<float> z = copy_of<float>(model.forward(store, changed.data(), B, Tn, false));
    for (int64_t i = 0; i < (t + 1) * V; ++i) ASSERT_EQ(z[i], base[i]) << "t=" << t << ": position " << i / V;
    bool later_changed = false;
    for (int64_t i = (t + 1) * V; i < Tn * V; ++i) later_changed |= z[i] != base[i];
    EXPECT_TRUE(later_changed) << "t=" << t;
    for (int64_t i = Tn * V; i < 2 * Tn * V; ++i) ASSERT_EQ(z[i], base[i]) << "batch 1 changed";
  }
}

TEST(LlamaModel, BackwardAccumulatesIntoGradients) {
  const LlamaConfig cfg = test::tiny_llama_tied_bias();
  const int64_t B = 2, Tn = 4, V = cfg.vocab_size;
  ResidentParams store = test::make_store(cfg, DType::f64, 3);
  LlamaModel<double> model(cfg);
  const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 2);
  const std::vector<double> ra = random_vector(static_cast<size_t>(B * Tn * V), 1);
  const std::vector<double> rb = random_vector(static_cast<size_t>(B * Tn * V), 2);
  model.forward(store, tokens.data(), B, Tn, true);
  model.backward(store, ra.data());
  const std::vector<double> ga = copy_of<double>(store.grads_flat().view());
  store.zero_grads();
  model.backward(store, rb.data());
  const std::vector<double> gb = copy_of<double>(store.grads_flat().view());
  store.zero_grads();
  model.backward(store, ra.data());
  model.backward(store, rb.data());
  const std::vector<double> gab = copy_of<double>(store.grads_flat().view());
  for (size_t i = 0; i < gab.size(); ++i)
    ASSERT_NEAR(gab[i], ga[i] + gb[i], 1e-12 * (1 + std::abs(ga[i]) + std::abs(gb[i]))) << i;
}

class RecordingAccess : public compute::ParamAccess {
 public:
  explicit RecordingAccess(ResidentParams& inner) : inner_(inner) {}
  std::vector<TensorView> acquire(int l) override {
    log.push_back("acquire " + std::to_string(l));
    return inner_.acquire(l);
  }
  void release(int l) override { log.push_back("release " + std::to_string(l)); }
  std::vector<TensorView> acquire_grads(int l) override {
    log.push_back("grads " + std::to_string(l));
    return inner_.acquire_grads(l);
  }
  void grads_done(int l) override { log.push_back("done " + std::to_string(l)); }
  std::vector<std::string> log;

 private:
  ResidentParams& inner_;
};

TEST(LlamaModel, CallsParamAccessInTheDocumentedOrder) {
  for (bool tied : {false, true}) {
    LlamaConfig cfg = test::tiny_llama();
    cfg.tie_word_embeddings = tied;
    ResidentParams store = test::make_store(cfg, DType::f32, 1);
    RecordingAccess access(store);
    LlamaModel<float> model(cfg);
    const std::vector<int32_t> tokens = test::random_tokens(5, cfg.vocab_size, 1);
    model.forward(access, tokens.data(), 1, 5, true);
    const std::vector<float> dlogits(5 * cfg.vocab_size, 0.1f);
    if (tied) {
      EXPECT_EQ(access.log, (std::vector<std::string>{"acquire 0", "acquire 1", "release 1", "acquire 2", "release 2",
                                                      "acquire 3", "release 3", "release 0"}));
      access.log.clear();
      model.backward(access, dlogits.data());
      EXPECT_EQ(access.log, (std::vector<std::string>{"acquire 0", "grads 0", "acquire 3", "grads 3", "done 3",
                                                      "release 3", "acquire 2", "grads 2", "done 2", "release 2",
                                                      "acquire 1", "grads 1", "done 1", "release 1", "done 0",
                                                      "release 0"}));
    } else {  // an untied embedding is held only while it is used
      EXPECT_EQ(access.log, (std::vector<std::string>{"acquire 0", "release 0", "acquire 1", "release 1", "acquire 2",
                                                      "release 2", "acquire 3", "release 3"}));
      access.log.clear();
      model.backward(access, dlogits.data());
      EXPECT_EQ(access.log, (std::vector<std::string>{"acquire 3", "grads 3", "done 3", "release 3", "acquire 2",
                                                      "grads 2", "done 2", "release 2", "acquire 1", "grads 1",
                                                      "done 1", "release 1", "acquire 0", "grads 0", "done 0",
                                                      "release 0"}));
    }
  }
}

TEST(LlamaModel, RefusesWrongInputsWithContext) {
  const LlamaConfig cfg = test::tiny_llama();
  LlamaModel<double> model(cfg);
  const std::vector<int32_t> tokens = test::random_tokens(5, cfg.vocab_size, 1);
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  ResidentParams wrong_dtype = test::make_store(cfg, DType::f32, 1);
  EXPECT_EQ(message([&] { model.forward(wrong_dtype, tokens.data(), 1, 5, true); }),
            "llama: parameter model.embed_tokens.weight: dtype f32, expected f64");
  ResidentParams store = test::make_store(cfg, DType::f64, 1);
  EXPECT_NE(message([&] { model.forward(store, tokens.data(), 1, 7, true); }).find("max_position_embeddings (6)"),
            std::string::npos);
  std::vector<int32_t> bad = tokens;
  bad[2] = 11;
  EXPECT_NE(message([&] { model.forward(store, bad.data(), 1, 5, true); }).find("token 11 at position 2"),
            std::string::npos);
  LlamaModel<double> fresh(cfg);
  const std::vector<double> d(5 * 11);
  EXPECT_NE(message([&] { fresh.backward(store, d.data()); }).find("no training forward"), std::string::npos);
  LlamaConfig other = cfg;
  other.num_key_value_heads = 4;  // k_proj [8, 8] where [4, 8] is expected
  ResidentParams other_store = test::make_store(other, DType::f64, 1);
  EXPECT_EQ(message([&] { model.forward(other_store, tokens.data(), 1, 5, true); }),
            "llama: parameter model.layers.0.self_attn.k_proj.weight: shape [8, 8], expected [4, 8]");
}

}  // namespace
}  // namespace tandem::llama
