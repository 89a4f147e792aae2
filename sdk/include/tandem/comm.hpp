// The C++ layer for communicator modules (comm.h). A communicator is an ordinary class:
//
//   class MyComm final : public tandem::sdk::Communicator {
//    public:
//     explicit MyComm(const tandem::sdk::Params& p) : n_(static_cast<int32_t>(p.integer("world_size"))) {}
//     int32_t world_size() const override { return n_; }
//     ... the collectives, each for one local rank ...
//   };
//   TANDEM_COMM_MODULE(my_comm, MyComm, "1.0.0", "one line", kParams)
//
// The adapter checks what every communicator would check (local rank in range, known dtype and op,
// non-null buffers, broadcast root in range) before the class sees a call; the class decides which
// dtypes it reduces (throw Unsupported for the others) and how ranks meet.
//
// CommClient is the calling side: a stage holds one for its local rank and calls the collectives
// with typed spans or raw buffers; a failure (another rank's abort included) comes back as an
// exception.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tandem/call.hpp"
#include "tandem/comm.h"
#include "tandem/dtype.hpp"
#include "tandem/module.hpp"

namespace tandem::sdk {

// "SUM", "AVERAGE", "MAX"; "unknown reduce op" otherwise.
constexpr const char* reduce_op_name(uint32_t op) {
  switch (op) {
    case TANDEM_REDUCE_SUM:
      return "SUM";
    case TANDEM_REDUCE_AVERAGE:
      return "AVERAGE";
    case TANDEM_REDUCE_MAX:
      return "MAX";
    default:
      return "unknown reduce op";
  }
}

// The factor AVERAGE multiplies the rank-ordered sum by: 1/world_size, rounded once in T (division
// in T, so 1/3 is the float nearest to 1/3 for F32). Every communicator and every reference that
// reproduces a communicator's average uses this, so that results agree bit for bit.
template <class T>
T average_factor(int32_t world_size) {
  return static_cast<T>(1) / static_cast<T>(world_size);
}

// The tandem_dtype of a C++ element type.
template <class T>
constexpr tandem_dtype dtype_of();
template <>
constexpr tandem_dtype dtype_of<float>() {
  return TANDEM_DTYPE_F32;
}
template <>
constexpr tandem_dtype dtype_of<double>() {
  return TANDEM_DTYPE_F64;
}
template <>
constexpr tandem_dtype dtype_of<int32_t>() {
  return TANDEM_DTYPE_I32;
}
template <>
constexpr tandem_dtype dtype_of<int64_t>() {
  return TANDEM_DTYPE_I64;
}
template <>
constexpr tandem_dtype dtype_of<uint16_t>() {
  return TANDEM_DTYPE_U16;
}

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int32_t world_size() const = 0;
  virtual int32_t local_rank_count() const = 0;
  virtual int32_t first_rank() const = 0;

  // comm.h states each call's contract; local_rank is in [0, local_rank_count()), counts are elements.
  virtual void all_reduce(int32_t local_rank, void* buffer, size_t count, tandem_dtype dtype, tandem_reduce_op op) = 0;
  virtual void reduce_scatter(int32_t local_rank, const void* input, void* output, size_t count, tandem_dtype dtype,
                              tandem_reduce_op op) = 0;
  virtual void all_gather(int32_t local_rank, const void* input, void* output, size_t count, tandem_dtype dtype) = 0;
  virtual void broadcast(int32_t local_rank, void* buffer, size_t bytes, int32_t root) = 0;
  virtual void barrier(int32_t local_rank) = 0;
  // Never blocks and never throws.
  virtual void abort(int32_t local_rank, std::string_view message) noexcept = 0;
  // SDK 1.2 (comm.h): the memory the collectives take, and the stream a device communicator queues
  // a rank's collectives on. The defaults are a host communicator's.
  virtual tandem_device_type memory() const { return TANDEM_DEVICE_CPU; }
  virtual void set_stream(int32_t local_rank, void* stream) {
    (void)local_rank;
    if (stream != nullptr)
      throw Unsupported("set_stream: this communicator works on host memory, synchronously; it takes no stream");
  }
};

// Maps tandem_comm_vtable onto a Communicator subclass; every call goes through guard().
template <class Class>
struct CommAdapter {
  static Class& self(void* p) { return *static_cast<Class*>(p); }
  static const Class& self(const void* p) { return *static_cast<const Class*>(p); }

  static int32_t world_size(const void* p) noexcept {
    return noexcept_int([&] { return self(p).world_size(); });
  }
  static int32_t local_rank_count(const void* p) noexcept {
    return noexcept_int([&] { return self(p).local_rank_count(); });
  }
  static int32_t first_rank(const void* p) noexcept {
    return noexcept_int([&] { return self(p).first_rank(); });
  }

  static tandem_status all_reduce(void* p, int32_t local_rank, void* buffer, size_t count, uint32_t dtype, uint32_t op,
                                  tandem_error* err) noexcept {
    return guard(err, [&] {
      check_rank(p, "all_reduce", local_rank);
      check_dtype("all_reduce", dtype);
      check_op("all_reduce", op);
      check_buffer("all_reduce", "buffer", buffer, count);
      self(p).all_reduce(local_rank, buffer, count, static_cast<tandem_dtype>(dtype),
                         static_cast<tandem_reduce_op>(op));
    });
  }
  static tandem_status reduce_scatter(void* p, int32_t local_rank, const void* input, void* output, size_t count,
                                      uint32_t dtype, uint32_t op, tandem_error* err) noexcept {
    return guard(err, [&] {
      check_rank(p, "reduce_scatter", local_rank);
      check_dtype("reduce_scatter", dtype);
      check_op("reduce_scatter", op);
      check_buffer("reduce_scatter", "input", input, count);
      check_buffer("reduce_scatter", "output", output, count);
      self(p).reduce_scatter(local_rank, input, output, count, static_cast<tandem_dtype>(dtype),
                             static_cast<tandem_reduce_op>(op));
    });
  }
  static tandem_status all_gather(void* p, int32_t local_rank, const void* input, void* output, size_t count,
                                  uint32_t dtype, tandem_error* err) noexcept {
    return guard(err, [&] {
      check_rank(p, "all_gather", local_rank);
      check_dtype("all_gather", dtype);
      check_buffer("all_gather", "input", input, count);
      check_buffer("all_gather", "output", output, count);
      self(p).all_gather(local_rank, input, output, count, static_cast<tandem_dtype>(dtype));
    });
  }
  static tandem_status broadcast(void* p, int32_t local_rank, void* buffer, size_t bytes, int32_t root,
                                 tandem_error* err) noexcept {
    return guard(err, [&] {
      check_rank(p, "broadcast", local_rank);
      check_buffer("broadcast", "buffer", buffer, bytes);
      const int32_t n = self(p).world_size();
      if (root < 0 || root >= n)
        throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is not a rank of a world of " +
                                    std::to_string(n));
      self(p).broadcast(local_rank, buffer, bytes, root);
    });
  }
  static tandem_status barrier(void* p, int32_t local_rank, tandem_error* err) noexcept {
    return guard(err, [&] {
      check_rank(p, "barrier", local_rank);
      self(p).barrier(local_rank);
    });
  }
  static void abort(void* p, int32_t local_rank, const char* message) noexcept {
    self(p).abort(local_rank, message != nullptr ? std::string_view(message) : std::string_view("(no message)"));
  }
  static uint32_t memory(const void* p) noexcept {
    try {
      return static_cast<uint32_t>(self(p).memory());
    } catch (...) {
      return TANDEM_DEVICE_CPU;
    }
  }
  static tandem_status set_stream(void* p, int32_t local_rank, void* stream, tandem_error* err) noexcept {
    return guard(err, [&] {
      check_rank(p, "set_stream", local_rank);
      self(p).set_stream(local_rank, stream);
    });
  }

  static constexpr tandem_comm_vtable vtable = {sizeof(tandem_comm_vtable),
                                                &world_size,
                                                &local_rank_count,
                                                &first_rank,
                                                &all_reduce,
                                                &reduce_scatter,
                                                &all_gather,
                                                &broadcast,
                                                &barrier,
                                                &abort,
                                                &memory,
                                                &set_stream};

 private:
  template <class Fn>
  static int32_t noexcept_int(Fn&& fn) noexcept {
    try {
      return fn();
    } catch (...) {
      return 0;
    }
  }
  static void check_rank(void* p, const char* call, int32_t local_rank) {
    const int32_t n = self(p).local_rank_count();
    if (local_rank < 0 || local_rank >= n)
      throw std::invalid_argument(std::string(call) + ": local rank " + std::to_string(local_rank) + " is not in [0, " +
                                  std::to_string(n) + ")");
  }
  static void check_dtype(const char* call, uint32_t dtype) {
    if (dtype_size(dtype) == 0)
      throw std::invalid_argument(std::string(call) + ": " + std::to_string(dtype) + " is not a tandem_dtype");
  }
  static void check_op(const char* call, uint32_t op) {
    if (op != TANDEM_REDUCE_SUM && op != TANDEM_REDUCE_AVERAGE && op != TANDEM_REDUCE_MAX)
      throw std::invalid_argument(std::string(call) + ": " + std::to_string(op) + " is not a tandem_reduce_op");
  }
  static void check_buffer(const char* call, const char* name, const void* buffer, size_t count) {
    if (buffer == nullptr && count > 0)
      throw std::invalid_argument(std::string(call) + ": " + name + " is null for " + std::to_string(count) +
                                  " elements");
  }
};

// The calling side for one local rank: a communicator instance, its table and the rank the calls are
// made for. Failures are thrown as guard() caught them (call.hpp); a rank's abort arrives on the
// others as std::runtime_error("rank R failed: ..."). Does not own the instance; copyable. The one
// calling wrapper of a communicator: the host's tests and tools hold one, and a stage is given one
// for its local rank in sdk::StageSetup::comm (stage.hpp). Default-constructed it is empty (false),
// for a StageSetup not set up yet; calling it then is undefined.
class CommClient {
 public:
  CommClient() = default;
  CommClient(void* instance, const tandem_comm_vtable* vtable, int32_t local_rank)
      : self_(instance), vt_(vtable), local_rank_(local_rank) {
    if (instance == nullptr || vtable == nullptr) throw std::invalid_argument("CommClient: null instance or table");
  }

  explicit operator bool() const { return self_ != nullptr; }
  int32_t world_size() const { return vt_->world_size(self_); }
  int32_t local_rank() const { return local_rank_; }
  int32_t rank() const { return vt_->first_rank(self_) + local_rank_; }  // the global rank
  // Where the collectives' buffers are (SDK 1.2; an older communicator takes host memory).
  tandem_device_type memory() const {
    if (!TANDEM_HAS_FIELD(vt_->struct_size, tandem_comm_vtable, memory) || vt_->memory == nullptr)
      return TANDEM_DEVICE_CPU;
    return static_cast<tandem_device_type>(vt_->memory(self_));
  }

  template <class T>
  void all_reduce(std::span<T> buffer, tandem_reduce_op op) {
    call_checked([&](tandem_error* e) {
      return vt_->all_reduce(self_, local_rank_, buffer.data(), buffer.size(), dtype_of<T>(), op, e);
    });
  }
  // input: world_size * output.size() elements.
  template <class T>
  void reduce_scatter(std::span<const T> input, std::span<T> output, tandem_reduce_op op) {
    check_multiple("reduce_scatter", input.size(), output.size());
    call_checked([&](tandem_error* e) {
      return vt_->reduce_scatter(self_, local_rank_, input.data(), output.data(), output.size(), dtype_of<T>(), op, e);
    });
  }
  // output: world_size * input.size() elements.
  template <class T>
  void all_gather(std::span<const T> input, std::span<T> output) {
    check_multiple("all_gather", output.size(), input.size());
    call_checked([&](tandem_error* e) {
      return vt_->all_gather(self_, local_rank_, input.data(), output.data(), input.size(), dtype_of<T>(), e);
    });
  }
  // The same collectives on raw buffers, as a stage holds them (possibly device memory, where the
  // communicator's memory() says): `count` elements; reduce_scatter's input is world_size * count,
  // all_gather's output world_size * count elements.
  void all_reduce(float* buffer, size_t count, tandem_reduce_op op) { all_reduce_raw(buffer, count, TANDEM_DTYPE_F32, op); }
  void all_reduce(double* buffer, size_t count, tandem_reduce_op op) { all_reduce_raw(buffer, count, TANDEM_DTYPE_F64, op); }
  void reduce_scatter(const float* input, float* output, size_t count, tandem_reduce_op op) {
    call_checked([&](tandem_error* e) {
      return vt_->reduce_scatter(self_, local_rank_, input, output, count, TANDEM_DTYPE_F32, op, e);
    });
  }
  void all_gather(const void* input, void* output, size_t count, tandem_dtype dtype) {
    call_checked([&](tandem_error* e) { return vt_->all_gather(self_, local_rank_, input, output, count, dtype, e); });
  }
  void broadcast(void* buffer, size_t bytes, int32_t root) {
    call_checked([&](tandem_error* e) { return vt_->broadcast(self_, local_rank_, buffer, bytes, root, e); });
  }
  template <class T>
  void broadcast(std::span<T> buffer, int32_t root) {
    broadcast(buffer.data(), buffer.size_bytes(), root);
  }
  void barrier() {
    call_checked([&](tandem_error* e) { return vt_->barrier(self_, local_rank_, e); });
  }
  void abort(const std::string& message) { vt_->abort(self_, local_rank_, message.c_str()); }

  void* instance() const { return self_; }
  const tandem_comm_vtable* vtable() const { return vt_; }

 private:
  void all_reduce_raw(void* buffer, size_t count, tandem_dtype dtype, tandem_reduce_op op) {
    call_checked([&](tandem_error* e) { return vt_->all_reduce(self_, local_rank_, buffer, count, dtype, op, e); });
  }
  void check_multiple(const char* call, size_t whole, size_t part) const {
    const size_t n = static_cast<size_t>(world_size());
    if (whole != n * part)
      throw std::invalid_argument(std::string(call) + ": " + std::to_string(whole) + " elements are not world_size (" +
                                  std::to_string(n) + ") times " + std::to_string(part));
  }

  void* self_ = nullptr;
  const tandem_comm_vtable* vt_ = nullptr;
  int32_t local_rank_ = 0;
};

}  // namespace tandem::sdk

#define TANDEM_COMM_MODULE(IDENT, CLASS, VERSION, SUMMARY, PARAMS)                                                   \
  TANDEM_DEFINE_MODULE_(TANDEM_KIND_COMM, IDENT, CLASS, ::tandem::sdk::CommAdapter<CLASS>::vtable, VERSION, SUMMARY, \
                        PARAMS)
