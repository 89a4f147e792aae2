// Engine: forward, backward and step of one model over this process's ranks (see engine.hpp).
//
// Where each part of a training micro-step lives:
//   forward    Engine::forward (here) -> the model module's forward, which acquires each layer's
//              parameters from the stage (modules/model/gpt; ZeRO-3 gathers them:
//              modules/stage/zero3/partitioned_params.hpp)
//   loss       Engine::backward_on_cpu / backward_on_gpu (here): CE + KD and dlogits (host_loss.cpp
//              on the CPU, the classifier kernel gpu::Loss on a GPU), divided by gas
//   backward   the model module's backward; each layer's gradients go to the stage (acquire_grads /
//              grads_done) and the stage reduces them (end_backward: zero1.cpp, zero2.cpp with
//              modules/stage/common/gradient_buckets.hpp, zero3.cpp)
//   step       Engine::step -> Engine::take_step (here) on the boundary: the stage's grad_norm
//              (common/shard_step.hpp), clipping and the loss scale, the stage's step (the optimizer
//              module on the shard, then the all-gather: common/whole_params.hpp), the scheduler
//              (runtime/lr_scheduler.cpp) and the loss scaler (loss_scaler.cpp)
//   build      engine_build.cpp; save/load engine_checkpoint.cpp, engine_reshard.cpp
#include "tandem/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <utility>

#include "engine/engine_rank.hpp"
#include "engine/rank_pool.hpp"
#include "tandem/call.hpp"
#include "tandem/dtype.hpp"
#include "tandem/compute/losses.hpp"

namespace tandem {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The ranks' copy fences (gpu::Device::Memory::fence_copies) from construction until lift() or the
// end of the scope, whichever comes first; nothing when not `on`.
class CopyFence {
 public:
  CopyFence(std::vector<gpu::Device::Memory*> memories, bool on) : memories_(on ? std::move(memories) : decltype(memories_){}) {
    for (gpu::Device::Memory* m : memories_) m->fence_copies();
  }
  ~CopyFence() { lift(); }
  CopyFence(const CopyFence&) = delete;
  CopyFence& operator=(const CopyFence&) = delete;
  void lift() {
    for (gpu::Device::Memory* m : memories_) m->lift_copy_fence();
    memories_.clear();
  }

 private:
  std::vector<gpu::Device::Memory*> memories_;
};

tandem_tensor_view host_view(void* data, tandem_dtype dtype, std::initializer_list<int64_t> shape) {
  tandem_tensor_view v{};
  v.struct_size = sizeof v;
  v.dtype = dtype;
  v.device = TANDEM_DEVICE_CPU;
  v.data = data;
  for (int64_t s : shape) v.shape[v.ndim++] = s;
  return v;
}

size_t numel(const tandem_model_param& p) {
  size_t n = 1;
  for (uint32_t d = 0; d < p.ndim; ++d) n *= static_cast<size_t>(p.shape[d]);
  return n;
}

}  // namespace

Engine::Engine() = default;
// The ranks first: on a GPU their modules free device memory on the stream that gpu_ owns.
Engine::~Engine() { ranks_.clear(); }

int32_t Engine::world_size() const {
  const auto& vt = comm_->vtable<tandem_comm_vtable>();
  return vt.world_size(comm_->handle());
}

int32_t Engine::first_rank() const {
  const auto& vt = comm_->vtable<tandem_comm_vtable>();
  return vt.first_rank(comm_->handle());
}

void Engine::on_ranks(const std::function<void(int32_t)>& fn) const {
  if (!gpu_) return pool_->run(fn);
  pool_->run([&](int32_t r) {
    gpu_->bind_thread();
    fn(r);
  });
}

std::string Engine::optimizer_module() const {
  if (ranks_.empty() || !ranks_.front()->optimizer) return "";
  return ranks_.front()->optimizer->module_name();
}

int64_t Engine::parameter_count() const {
  int64_t n = 0;
  for (const tandem_model_param& p : params_) n += static_cast<int64_t>(numel(p));
  return n;
}

std::vector<int64_t> Engine::parameter_shape(size_t index) const {
  const tandem_model_param& p = params_.at(index);
  return std::vector<int64_t>(p.shape, p.shape + p.ndim);
}

Logits Engine::forward(const std::vector<TokenBatch>& batches, bool train) {
  if (batches.size() != ranks_.size())
    throw std::invalid_argument(name_ + ": forward needs one micro-batch per rank (" + std::to_string(ranks_.size()) +
                                "), got " + std::to_string(batches.size()));
  if (train && !has_optimizer_)
    throw std::invalid_argument(name_ + ": this engine has no optimizer (inference only); forward with train = false");
  const TokenBatch& first = batches.front();
  for (const TokenBatch& b : batches) {
    if (b.batch < 1 || b.seq < 1 || b.inputs.size() != static_cast<size_t>(b.batch * b.seq))
      throw std::invalid_argument(name_ + ": a micro-batch's inputs must hold batch * seq tokens");
    if (b.batch != first.batch || b.seq != first.seq)
      throw std::invalid_argument(name_ + ": every rank's micro-batch must have the same shape");
    if (b.seq > max_sequence_)
      throw std::invalid_argument(name_ + ": sequence of " + std::to_string(b.seq) + " tokens exceeds the model's " +
                                  std::to_string(max_sequence_));
  }
  ++forwards_;  // the last forward's logits are overwritten from here on
  Logits out;
  out.batch = first.batch;
  out.seq = first.seq;
  out.vocab = vocab_;
  if (gpu_) {
    out.on_device.assign(ranks_.size(), nullptr);
    out.dtype = working_dtype_;
  } else {
    out.per_rank.assign(ranks_.size(), nullptr);
  }
  on_ranks([&](int32_t r) {
    Rank& rank = *ranks_[static_cast<size_t>(r)];
    const auto t0 = Clock::now();
    if (gpu_) rank.timer->mark(Rank::kForwardBegin);
    rank.tokens = batches[static_cast<size_t>(r)].inputs;
    tandem_tensor_view tokens = host_view(rank.tokens.data(), TANDEM_DTYPE_I32, {first.batch, first.seq});
    tandem_tensor_view logits{};
    logits.struct_size = sizeof logits;
    sdk::call_checked([&](tandem_error* err) {
      return rank.model_vt->forward(rank.model->handle(), &tokens, rank.access(), train ? 1 : 0, &logits, err);
    });
    const uint32_t want_dtype = gpu_ ? working_dtype_ : static_cast<uint32_t>(TANDEM_DTYPE_F32);
    const uint32_t want_device = gpu_ ? TANDEM_DEVICE_CUDA : TANDEM_DEVICE_CPU;
    if (logits.dtype != want_dtype || logits.device != want_device || logits.ndim != 3 || logits.shape[2] != vocab_)
      throw std::runtime_error(name_ + ": the model returned logits that are not " + sdk::dtype_name(want_dtype) +
                               " [batch, seq, vocab] on the " + (gpu_ ? "GPU" : "CPU"));
    if (gpu_) {
      rank.timer->mark(Rank::kForwardEnd);
      rank.device_logits = logits.data;
      out.on_device[static_cast<size_t>(r)] = logits.data;
    } else {
      rank.logits = static_cast<const float*>(logits.data);
      rank.time.forward = seconds_since(t0);
      out.per_rank[static_cast<size_t>(r)] = rank.logits;
    }
  });
  last_forward_trained_ = train;
  last_batch_ = first.batch;
  last_seq_ = first.seq;
  return out;
}

BackwardReport Engine::backward(const LossSpec& loss) {
  if (!has_optimizer_) throw std::invalid_argument(name_ + ": backward on an engine without an optimizer");
  // Before anything is computed: a second backward would add its gradients into the window's ones.
  if (awaiting_step_)
    throw std::invalid_argument(name_ + ": a second backward() without step() after the one of micro-step " +
                                std::to_string(micro_steps_ + 1) +
                                ": call step() after each backward() (forward, backward, step, as DeepSpeed's "
                                "engine; step() updates the weights on the accumulation boundary only)" +
                                (awaiting_step_->boundary ? "; that backward() ended an accumulation window, whose "
                                                            "gradients are not applied yet"
                                                          : ""));
  if (!last_forward_trained_) throw std::invalid_argument(name_ + ": backward needs a training forward first");
  if (loss.batches == nullptr || loss.batches->size() != ranks_.size())
    throw std::invalid_argument(name_ + ": the loss needs the micro-batches of the forward (one per rank)");
  if (loss.teacher != nullptr) {
    const Logits& t = *loss.teacher;
    const size_t count = gpu_ ? t.on_device.size() : t.per_rank.size();
    if (count != ranks_.size() || t.batch != last_batch_ || t.seq != last_seq_ || t.vocab != vocab_)
      throw std::invalid_argument(name_ + ": the teacher's logits do not match the student's (batch, sequence, vocab)");
    if (gpu_ && t.dtype != working_dtype_)
      throw std::invalid_argument(name_ + ": the teacher's logits are " + sdk::dtype_name(t.dtype) + ", the student's " +
                                  sdk::dtype_name(working_dtype_) + ": give both configs the same precision");
  }

  on_ranks([&](int32_t r) {
    Rank& rank = *ranks_[static_cast<size_t>(r)];
    const TokenBatch& batch = (*loss.batches)[static_cast<size_t>(r)];
    if (gpu_)
      backward_on_gpu(rank, batch, loss, static_cast<size_t>(r));
    else
      backward_on_cpu(rank, batch, loss, static_cast<size_t>(r));
  });
  last_forward_trained_ = false;

  BackwardReport report;
  for (const auto& rank : ranks_) {
    report.ce_loss += rank->ce / static_cast<double>(ranks_.size());
    report.kd_loss += rank->kd / static_cast<double>(ranks_.size());
  }
  report.loss = report.ce_loss + report.kd_loss;
  report.loss_scale = scaler_.scale();
  // DeepSpeed's is_gradient_accumulation_boundary(): micro_steps counts the steps() done.
  report.boundary = (micro_steps_ + 1) % config_.batch.gradient_accumulation_steps == 0;
  awaiting_step_ = report;
  return report;
}

StepReport Engine::step(const std::function<void()>& during_step) {
  if (!has_optimizer_) throw std::invalid_argument(name_ + ": step on an engine without an optimizer");
  if (!awaiting_step_)
    throw std::invalid_argument(name_ + ": step() without a backward() since the last step() (micro-step " +
                                std::to_string(micro_steps_) +
                                "): each step() ends the micro-step of one backward(): forward, backward, step");
  const BackwardReport done = *std::exchange(awaiting_step_, std::nullopt);
  StepReport report;
  report.loss = done.loss;
  report.ce_loss = done.ce_loss;
  report.kd_loss = done.kd_loss;
  report.loss_scale = done.loss_scale;
  report.boundary = done.boundary;
  ++micro_steps_;  // DeepSpeed's step() counts every micro-step, and steps the optimizer on the boundary
  if (report.boundary) {
    take_step(report, during_step);
  } else if (during_step) {
    during_step();
  }
  report.global_steps = global_steps_;
  const Rank& r0 = *ranks_.front();
  report.time = r0.time;
  return report;
}

namespace {

// Tokens of a micro-batch that have a target: the mean's denominator. Checks the targets' shape.
int64_t counted_targets(const std::string& engine, const TokenBatch& batch, int64_t rows) {
  int64_t counted = 0;
  for (int32_t t : batch.targets) counted += t >= 0 ? 1 : 0;
  if (batch.targets.size() != static_cast<size_t>(rows) || counted == 0)
    throw std::invalid_argument(engine + ": a micro-batch's targets must hold batch * seq tokens, some >= 0");
  return counted;
}

// The classifier kernel's request for a rank's last logits against `targets`: the losses only;
// a training backward adds the gradient's weights and the teacher.
gpu::Loss::Request loss_request(void* logits, uint32_t dtype, int64_t rows, int64_t vocab,
                                const std::vector<int32_t>& targets) {
  gpu::Loss::Request request;
  request.logits = logits;
  request.dtype = dtype;
  request.rows = rows;
  request.vocab = vocab;
  request.targets = targets.data();
  request.gradient = false;
  return request;
}

}  // namespace

// The loss and its gradient on the host, then the model's backward and the stage's reduction.
void Engine::backward_on_cpu(Rank& rank, const TokenBatch& batch, const LossSpec& loss, size_t r) {
  const int64_t gas = config_.batch.gradient_accumulation_steps;
  const int64_t rows = last_batch_ * last_seq_;
  // fp16: the gradients carry the loss scale S from here to the step, which divides it out.
  const double loss_scale = scaler_.scale();
  {
    const auto t0 = Clock::now();
    // Mean over the tokens that have a target, divided by gas as DeepSpeed's backward does.
    const int64_t counted = counted_targets(name_, batch, rows);
    HostLoss::Request request;
    request.logits = rank.logits;
    request.targets = batch.targets.data();
    request.rows = rows;
    request.vocab = vocab_;
    request.ce_scale = loss_scale / (static_cast<double>(counted) * static_cast<double>(gas));
    if (loss.teacher != nullptr) {
      request.teacher = loss.teacher->per_rank[r];
      request.distill = compute::Distillation{loss.temperature, loss.alpha};
      request.kl_scale = loss_scale / (static_cast<double>(rows) * static_cast<double>(gas));
    }
    rank.dlogits.resize(static_cast<size_t>(rows * vocab_));
    const HostLoss::Sums sums = rank.host_loss.run(request, rank.dlogits.data());
    rank.ce = sums.ce / static_cast<double>(counted);
    rank.kd = loss.teacher != nullptr ? sums.kl / static_cast<double>(rows) : 0.0;
    tandem_tensor_view dlogits = host_view(rank.dlogits.data(), TANDEM_DTYPE_F32, {last_batch_, last_seq_, vocab_});
    sdk::call_checked([&](tandem_error* err) {
      return rank.model_vt->backward(rank.model->handle(), &dlogits, rank.access(), err);
    });
    rank.time.backward = seconds_since(t0);
  }
  const auto t1 = Clock::now();
  sdk::call_checked([&](tandem_error* err) { return rank.stage_vt->end_backward(rank.stage->handle(), err); });
  rank.time.communication = seconds_since(t1);
}

// The same on a GPU: the classifier kernel computes the losses and writes their gradient over the
// logits in one pass (only the rows' losses come back to the host), the model's backward reads the
// gradient there, and the stage reduces; all queued on the rank's stream before the host waits for
// the losses. The phases' device times are read at the end, which waits for the reduction: one
// synchronisation per micro-step.
void Engine::backward_on_gpu(Rank& rank, const TokenBatch& batch, const LossSpec& loss, size_t r) {
  const int64_t gas = config_.batch.gradient_accumulation_steps;
  const int64_t rows = last_batch_ * last_seq_;
  const double loss_scale = scaler_.scale();
  const int64_t counted = counted_targets(name_, batch, rows);
  rank.timer->mark(Rank::kBackwardBegin);
  gpu::Loss::Request request = loss_request(rank.device_logits, working_dtype_, rows, vocab_, batch.targets);
  request.gradient = true;
  request.ce_scale = loss_scale / (static_cast<double>(counted) * static_cast<double>(gas));
  if (loss.teacher != nullptr) {
    request.teacher = loss.teacher->on_device[r];
    request.temperature = loss.temperature;
    request.alpha = loss.alpha;
    request.kl_scale = loss_scale / (static_cast<double>(rows) * static_cast<double>(gas));
  }
  rank.loss->queue(request);

  tandem_tensor_view dlogits = host_view(rank.device_logits, static_cast<tandem_dtype>(working_dtype_),
                                         {last_batch_, last_seq_, vocab_});
  dlogits.device = TANDEM_DEVICE_CUDA;
  dlogits.device_index = gpu_->index();
  sdk::call_checked([&](tandem_error* err) {
    return rank.model_vt->backward(rank.model->handle(), &dlogits, rank.access(), err);
  });
  rank.timer->mark(Rank::kBackwardEnd);
  sdk::call_checked([&](tandem_error* err) { return rank.stage_vt->end_backward(rank.stage->handle(), err); });
  rank.timer->mark(Rank::kReduced);
  const gpu::Loss::Sums sums = rank.loss->sums();  // while the backward may still run
  rank.ce = sums.ce / static_cast<double>(counted);
  rank.kd = loss.teacher != nullptr ? sums.kl / static_cast<double>(rows) : 0.0;
  rank.time.forward = rank.timer->seconds(Rank::kForwardBegin, Rank::kForwardEnd);
  rank.time.backward = rank.timer->seconds(Rank::kBackwardBegin, Rank::kBackwardEnd);
  rank.time.communication = rank.timer->seconds(Rank::kBackwardEnd, Rank::kReduced);
  rank.time.optimizer = 0;
}

void Engine::take_step(StepReport& report, const std::function<void()>& during_step) {
  // The values the schedule gives this step, read before it, as DeepSpeed's engine does.
  std::vector<tandem_optimizer_hparams> hparams = group_defaults_;
  if (scheduler_ != nullptr) {
    const SchedulerValues v = scheduler_->values();
    for (size_t g = 0; g < hparams.size(); ++g) {
      hparams[g].lr = v.lrs.at(g);
      if (v.momenta) hparams[g].beta1 = v.momenta->at(g);
      if (v.second_betas) hparams[g].beta2 = v.second_betas->at(g);
    }
  }
  // First every rank's gradient norm (which waits for the backward), then the caller's device work
  // (LossSpec::during_step), then the step: queued after the norm, that work overlaps an offloaded
  // step on the host instead of waiting for it.
  std::vector<double> norms(ranks_.size(), 0.0);
  on_ranks([&](int32_t r) {
    Rank& rank = *ranks_[static_cast<size_t>(r)];
    const auto t0 = Clock::now();
    double norm = 0;
    sdk::call_checked([&](tandem_error* err) { return rank.stage_vt->grad_norm(rank.stage->handle(), &norm, err); });
    norms[static_cast<size_t>(r)] = norm;
    rank.time.communication += seconds_since(t0);
  });
  std::vector<gpu::Device::Memory*> memories;
  if (gpu_)
    for (const auto& rank : ranks_) memories.push_back(rank->memory.get());
  CopyFence fence(std::move(memories), gpu_ && during_step);
  if (during_step) during_step();
  bool stepped = false;
  const double loss_scale = scaler_.scale();  // the factor the gradients carry
  on_ranks([&](int32_t r) {
    Rank& rank = *ranks_[static_cast<size_t>(r)];
    const double norm = norms[static_cast<size_t>(r)];
    const auto t1 = Clock::now();
    if (!std::isfinite(norm)) {
      sdk::call_checked([&](tandem_error* err) { return rank.stage_vt->zero_grads(rank.stage->handle(), err); });
    } else {
      // DeepSpeed (stage_1_and_2.py, unscale_and_clip_grads): c = max(1, (norm/S + 1e-6) / clip), and
      // the gradients are multiplied by 1 / (c * S). With S = 1 this is 1/c when c > 1, else 1.
      double c = 1.0;
      if (config_.gradient_clipping > 0) c = std::max(1.0, (norm / loss_scale + 1e-6) / config_.gradient_clipping);
      const double scale = 1.0 / (c * loss_scale);
      tandem_stage_step_args args{};
      args.struct_size = sizeof args;
      args.step = taken_steps_ + 1;
      args.grad_scale = scale;
      args.group_hparams = hparams.data();
      args.group_count = static_cast<uint32_t>(hparams.size());
      if (gpu_) rank.timer->mark(Rank::kStepBegin);
      sdk::call_checked([&](tandem_error* err) { return rank.stage_vt->step(rank.stage->handle(), &args, err); });
      if (gpu_) rank.timer->mark(Rank::kStepEnd);
      if (r == 0) stepped = true;
    }
    rank.time.optimizer = gpu_ && std::isfinite(norm) ? rank.timer->seconds(Rank::kStepBegin, Rank::kStepEnd)
                                                      : seconds_since(t1);
  });
  fence.lift();
  for (double n : norms)
    if (n != norms.front() && !(std::isnan(n) && std::isnan(norms.front())))
      throw std::runtime_error(name_ + ": ranks computed different gradient norms; the stage is inconsistent");
  report.grad_norm = norms.front() / loss_scale;
  report.stepped = stepped;
  report.nonfinite = !std::isfinite(report.grad_norm);
  report.scaler_overflow = report.nonfinite && scaler_.dynamic();
  // Every step updates the scaler, taken or skipped (DeepSpeed's _update_scale); the scale this step
  // used is already in the report.
  try {
    scaler_.update(report.nonfinite);
  } catch (const LossScaleError& e) {
    throw LossScaleError(name_ + ": step " + std::to_string(global_steps_ + 1) + ": " + e.what());
  }
  report.lr = hparams.front().lr;
  if (stepped) {
    ++taken_steps_;
    if (scheduler_ != nullptr) scheduler_->step();
  } else {
    ++skipped_steps_;
  }
  ++global_steps_;
}

double Engine::evaluate(const std::vector<std::vector<TokenBatch>>& batches) {
  if (batches.empty())  // a mean over nothing: not a loss of 0
    throw std::invalid_argument("Engine::evaluate: no batches (the data holds no validation part?)");
  double total = 0;
  int64_t count = 0;
  for (const std::vector<TokenBatch>& step : batches) {
    const Logits logits = forward(step, false);
    const int64_t rows = logits.batch * logits.seq;
    if (gpu_) {  // the classifier kernel's losses, no gradient
      on_ranks([&](int32_t r) {
        Rank& rank = *ranks_[static_cast<size_t>(r)];
        rank.loss->queue(loss_request(rank.device_logits, working_dtype_, rows, vocab_, step[static_cast<size_t>(r)].targets));
        rank.ce = rank.loss->sums().ce;
      });
      for (size_t r = 0; r < step.size(); ++r) {
        total += ranks_[r]->ce;
        for (int32_t t : step[r].targets) count += t >= 0 ? 1 : 0;
      }
      continue;
    }
    std::vector<float> losses(static_cast<size_t>(rows));
    for (size_t r = 0; r < step.size(); ++r) {
      compute::cross_entropy_forward(logits.per_rank[r], step[r].targets.data(), losses.data(), rows, vocab_);
      for (int64_t i = 0; i < rows; ++i)
        if (step[r].targets[static_cast<size_t>(i)] >= 0) {
          total += losses[static_cast<size_t>(i)];
          ++count;
        }
    }
  }
  return count == 0 ? 0.0 : total / static_cast<double>(count);
}

std::vector<float> Engine::host_logits(const Logits& logits, size_t r) const {
  const size_t n = static_cast<size_t>(logits.batch * logits.seq * logits.vocab);
  std::vector<float> out(n);
  if (!logits.on_gpu()) {
    const float* p = logits.per_rank.at(r);
    std::copy(p, p + n, out.begin());
    return out;
  }
  gpu_->read(logits.on_device.at(r), logits.dtype, out);
  return out;
}

std::vector<std::pair<std::string, std::vector<float>>> Engine::parameters() const {
  std::vector<std::pair<std::string, std::vector<float>>> out;
  for (const tandem_model_param& p : params_) out.emplace_back(p.name, std::vector<float>(numel(p)));
  // get_param is collective (ZeRO-3 gathers): every rank takes part, rank 0 keeps the values.
  on_ranks([&](int32_t r) {
    Rank& rank = *ranks_[static_cast<size_t>(r)];
    std::vector<float> scratch;
    for (uint32_t i = 0; i < params_.size(); ++i) {
      float* dst = out[i].second.data();
      if (r != 0) {
        scratch.resize(out[i].second.size());
        dst = scratch.data();
      }
      tandem_tensor_view view = host_view(dst, TANDEM_DTYPE_F32, {static_cast<int64_t>(out[i].second.size())});
      sdk::call_checked([&](tandem_error* err) { return rank.stage_vt->get_param(rank.stage->handle(), i, &view, err); });
    }
  });
  return out;
}

void Engine::set_parameters(const std::vector<std::pair<std::string, std::vector<float>>>& values) {
  if (values.size() != params_.size())
    throw std::invalid_argument(name_ + ": " + std::to_string(values.size()) + " parameters given, the model has " +
                                std::to_string(params_.size()));
  for (size_t i = 0; i < params_.size(); ++i) {
    if (values[i].first != params_[i].name)
      throw std::invalid_argument(name_ + ": parameter " + std::to_string(i) + " is " + params_[i].name + ", not " +
                                  values[i].first);
    if (values[i].second.size() != numel(params_[i]))
      throw std::invalid_argument(name_ + ": parameter " + values[i].first + " needs " +
                                  std::to_string(numel(params_[i])) + " values, got " +
                                  std::to_string(values[i].second.size()));
  }
  on_ranks([&](int32_t r) {
    Rank& rank = *ranks_[static_cast<size_t>(r)];
    for (uint32_t i = 0; i < params_.size(); ++i) {
      tandem_tensor_view view = host_view(const_cast<float*>(values[i].second.data()), TANDEM_DTYPE_F32,
                                          {static_cast<int64_t>(values[i].second.size())});
      sdk::call_checked([&](tandem_error* err) { return rank.stage_vt->set_param(rank.stage->handle(), i, &view, err); });
    }
  });
}

std::vector<tandem_stage_memory> Engine::memory() const {
  std::vector<tandem_stage_memory> out;
  for (const auto& rank : ranks_) {
    tandem_stage_memory m{};
    m.struct_size = sizeof m;
    sdk::call_checked([&](tandem_error* err) { return rank->stage_vt->memory(rank->stage->handle(), &m, err); });
    out.push_back(m);
  }
  return out;
}

}  // namespace tandem
