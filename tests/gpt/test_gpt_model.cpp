// GptModel: the whole backward against central finite differences in double for every element of
// every parameter; the same through the CE + KL losses; float vs double; determinism across
// thread counts; causality; gradient accumulation; the ParamAccess call order; errors.
#include <gtest/gtest.h>

#include <oneapi/tbb/task_arena.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "gpt_model.hpp"
#include "gpt_test_util.hpp"
#include "tandem/compute/losses.hpp"

namespace tandem::gpt {
namespace {

using compute::DType;
using compute::ResidentParams;
using compute::TensorView;

const GptConfig kTiny{2, 2, 8, 11, 5};  // n_layer, n_head, n_embd, vocab_size, block_size

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

// Central differences of loss() for every element of every parameter of `store`, against the
// gradients in store's gradient buffers. rel error = |fd - an| / max(|fd|, |an|, floor).
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

TEST(GptModel, WholeBackwardMatchesFiniteDifferencesForEveryParameter) {
  for (int64_t Tn : {5, 3}) {  // full block, and shorter (wpe rows >= T get no gradient)
    GptModel<double> model(kTiny);
    ResidentParams store = test::make_store(kTiny, DType::f64, 17);
    const int64_t B = 2, V = kTiny.vocab_size;
    const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 3);
    const std::vector<double> r = random_vector(static_cast<size_t>(B * Tn * V), 1);  // loss = sum(logits * r)
    auto loss = [&] {
      const TensorView logits = model.forward(store, tokens.data(), B, Tn, false);
      const double* z = logits.as<double>();
      double s = 0;
      for (size_t i = 0; i < r.size(); ++i) s += z[i] * r[i];
      return s;
    };
    model.forward(store, tokens.data(), B, Tn, true);
    model.backward(store, r.data());
    expect_all_gradients(store, loss, 1e-6, 1e-4);
  }
}

TEST(GptModel, GradientsThroughCrossEntropyAndDistillationMatchFiniteDifferences) {
  GptModel<double> model(kTiny);
  ResidentParams store = test::make_store(kTiny, DType::f64, 5);
  const int64_t B = 2, Tn = 5, V = kTiny.vocab_size, rows = B * Tn;
  const std::vector<int32_t> tokens = test::random_tokens(rows, V, 11);
  std::vector<int32_t> targets = test::random_tokens(rows, V, 12);
  targets[4] = -100;  // ignored position
  const std::vector<double> teacher = random_vector(static_cast<size_t>(rows * V), 2);
  const compute::Distillation dist{2.0, 0.5};
  const std::vector<double> mean(static_cast<size_t>(rows), 1.0 / double(rows));
  auto loss_and_grad = [&](std::vector<double>* dlogits) {
    const TensorView logits = model.forward(store, tokens.data(), B, Tn, dlogits != nullptr);
    const double* z = logits.as<double>();
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

TEST(GptModel, FloatAgreesWithDouble) {
  const GptConfig cfg{2, 4, 32, 50, 16};
  const int64_t B = 3, Tn = 16, V = cfg.vocab_size;
  ResidentParams sd = test::make_store(cfg, DType::f64, 9), sf = test::make_store(cfg, DType::f32, 9);
  const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 4);
  const std::vector<double> r = random_vector(static_cast<size_t>(B * Tn * V), 3);
  const std::vector<float> rf(r.begin(), r.end());
  GptModel<double> md(cfg);
  GptModel<float> mf(cfg);
  const std::vector<double> zd = copy_of<double>(md.forward(sd, tokens.data(), B, Tn, true));
  const std::vector<float> zf = copy_of<float>(mf.forward(sf, tokens.data(), B, Tn, true));
  for (size_t i = 0; i < zd.size(); ++i) ASSERT_NEAR(zf[i], zd[i], 1e-4 * (1 + std::abs(zd[i]))) << "logit " << i;
  md.backward(sd, r.data());
  mf.backward(sf, rf.data());
  for (size_t i = 0; i < sd.infos().size(); ++i) {
    const std::vector<double> gd = copy_of<double>(sd.grad(i));
    const std::vector<float> gf = copy_of<float>(sf.grad(i));
    double scale = 0;
    for (double v : gd) scale = std::max(scale, std::abs(v));
    for (size_t e = 0; e < gd.size(); ++e)
      ASSERT_NEAR(gf[e], gd[e], 1e-4 * scale + 1e-6) << sd.infos()[i].name << " element " << e;
  }
}

TEST(GptModel, ForwardAndBackwardAreBitwiseDeterministicAcrossThreadCounts) {
  const GptConfig cfg{2, 4, 64, 100, 32};
  const int64_t B = 4, Tn = 32, V = cfg.vocab_size;
  const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 8);
  const std::vector<double> r = random_vector(static_cast<size_t>(B * Tn * V), 5);
  const std::vector<float> rf(r.begin(), r.end());
  auto run = [&](int threads) {
    ResidentParams store = test::make_store(cfg, DType::f32, 2);
    GptModel<float> model(cfg);
    std::vector<float> logits;
    tbb::task_arena(threads).execute([&] {
      logits = copy_of<float>(model.forward(store, tokens.data(), B, Tn, true));
      model.backward(store, rf.data());
    });
    std::vector<float> grads = copy_of<float>(store.grads_flat().view());
    logits.insert(logits.end(), grads.begin(), grads.end());
    return logits;
  };
  const std::vector<float> one = run(1), two = run(2), again = run(2);
  EXPECT_TRUE(one == two) << "1 thread and 2 threads differ";
  EXPECT_TRUE(two == again) << "two runs differ";
}

// Ranks run as threads, each with its own replica, all sharing TBB's pool and OpenBLAS: each must
// get exactly what a lone run gets.
TEST(GptModel, ReplicasInConcurrentThreadsMatchALoneRun) {
  const GptConfig cfg{2, 4, 64, 100, 32};
  const int64_t B = 2, Tn = 32, V = cfg.vocab_size;
  const std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 8);
  const std::vector<float> r(static_cast<size_t>(B * Tn * V), 0.01f);
  auto run = [&] {
    ResidentParams store = test::make_store(cfg, DType::f32, 2);
    GptModel<float> model(cfg);
    std::vector<float> out = copy_of<float>(model.forward(store, tokens.data(), B, Tn, true));
    model.backward(store, r.data());
    const std::vector<float> grads = copy_of<float>(store.grads_flat().view());
    out.insert(out.end(), grads.begin(), grads.end());
    return out;
  };
  const std::vector<float> lone = run();
  std::vector<std::vector<float>> results(3);
  std::vector<std::thread> ranks;
  for (auto& res : results) ranks.emplace_back([&res, &run] { res = run(); });
  for (auto& t : ranks) t.join();
  for (const auto& res : results) EXPECT_TRUE(res == lone);
}

TEST(GptModel, IsCausalAndInferenceEqualsTraining) {
  const GptConfig cfg{2, 2, 16, 20, 8};
  const int64_t B = 2, Tn = 8, V = cfg.vocab_size;
  ResidentParams store = test::make_store(cfg, DType::f32, 4);
  GptModel<float> model(cfg);
  std::vector<int32_t> tokens = test::random_tokens(B * Tn, V, 1);
  const std::vector<float> base = copy_of<float>(model.forward(store, tokens.data(), B, Tn, true));
  const std::vector<float> inference = copy_of<float>(model.forward(store, tokens.data(), B, Tn, false));
  EXPECT_TRUE(base == inference);
  for (int64_t t = 0; t + 1 < Tn; ++t) {
    std::vector<int32_t> changed = tokens;
    changed[static_cast<size_t>(t + 1)] = (changed[static_cast<size_t>(t + 1)] + 1) % static_cast<int32_t>(V);  // batch 0
    const std::vector<float> z = copy_of<float>(model.forward(store, changed.data(), B, Tn, false));
    for (int64_t i = 0; i < (t + 1) * V; ++i) ASSERT_EQ(z[i], base[i]) << "t=" << t << ": position " << i / V;
    bool later_changed = false;
    for (int64_t i = (t + 1) * V; i < Tn * V; ++i) later_changed |= z[i] != base[i];
    EXPECT_TRUE(later_changed) << "t=" << t;
    for (int64_t i = Tn * V; i < 2 * Tn * V; ++i) ASSERT_EQ(z[i], base[i]) << "batch 1 changed";
  }
}

TEST(GptModel, BackwardAccumulatesIntoGradients) {
  const int64_t B = 2, Tn = 4, V = kTiny.vocab_size;
  ResidentParams store = test::make_store(kTiny, DType::f64, 3);
  GptModel<double> model(kTiny);
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
  double nonzero = 0;
  for (size_t i = 0; i < gab.size(); ++i) {
    ASSERT_NEAR(gab[i], ga[i] + gb[i], 1e-12 * (1 + std::abs(ga[i]) + std::abs(gb[i]))) << i;
    nonzero += std::abs(ga[i]);
  }
  EXPECT_GT(nonzero, 0.0);
}

// Records the calls in order, delegating to a ResidentParams.
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

TEST(GptModel, CallsParamAccessInTheDocumentedOrder) {
  ResidentParams store = test::make_store(kTiny, DType::f32, 1);
  RecordingAccess access(store);
  GptModel<float> model(kTiny);
  const std::vector<int32_t> tokens = test::random_tokens(5, kTiny.vocab_size, 1);
  model.forward(access, tokens.data(), 1, 5, true);
  EXPECT_EQ(access.log, (std::vector<std::string>{"acquire 0", "acquire 1", "release 1", "acquire 2", "release 2",
                                                  "acquire 3", "release 3", "release 0"}));
  access.log.clear();
  const std::vector<float> dlogits(5 * kTiny.vocab_size, 0.1f);
  model.backward(access, dlogits.data());
  EXPECT_EQ(access.log, (std::vector<std::string>{"acquire 0", "grads 0", "acquire 3", "grads 3", "done 3", "release 3",
                                                  "acquire 2", "grads 2", "done 2", "release 2", "acquire 1", "grads 1",
                                                  "done 1", "release 1", "done 0", "release 0"}));
}

TEST(GptModel, RefusesWrongInputsWithContext) {
  GptModel<double> model(kTiny);
  ResidentParams wrong_dtype = test::make_store(kTiny, DType::f32, 1);
  const std::vector<int32_t> tokens = test::random_tokens(5, kTiny.vocab_size, 1);
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message([&] { model.forward(wrong_dtype, tokens.data(), 1, 5, true); }),
            "gpt: parameter transformer.wte.weight: dtype f32, expected f64");
  ResidentParams store = test::make_store(kTiny, DType::f64, 1);
  EXPECT_NE(message([&] { model.forward(store, tokens.data(), 1, 6, true); }).find("block_size (5)"), std::string::npos);
  std::vector<int32_t> bad = tokens;
  bad[2] = 11;
  EXPECT_NE(message([&] { model.forward(store, bad.data(), 1, 5, true); }).find("token 11 at position 2"),
            std::string::npos);
  GptModel<double> fresh(kTiny);
  const std::vector<double> d(5 * 11);
  EXPECT_NE(message([&] { fresh.backward(store, d.data()); }).find("no training forward"), std::string::npos);
  fresh.forward(store, tokens.data(), 1, 5, false);
  EXPECT_NE(message([&] { fresh.backward(store, d.data()); }).find("no training forward"), std::string::npos);
  // A ParamAccess that hands out a wrongly shaped view.
  const GptConfig other{2, 2, 8, 12, 5};
  ResidentParams other_store = test::make_store(other, DType::f64, 1);
  EXPECT_EQ(message([&] { model.forward(other_store, tokens.data(), 1, 5, true); }),
            "gpt: parameter transformer.wte.weight: shape [12, 8], expected [11, 8]");
}

}  // namespace
}  // namespace tandem::gpt
