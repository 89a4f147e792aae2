// The calling side of a module's function table, in C++: an error buffer for the callee to write
// into, and a failed status turned back into the exception that guard() (module.hpp) turned into it.
// Used by the host and by modules that call other modules (a stage calls its communicator and its
// optimizer): an error then travels up as the same kind of failure, with the callee's message intact.
#pragma once

#include <array>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "tandem/abi.h"
#include "tandem/module.hpp"

namespace tandem::sdk {

// A tandem_error backed by its own storage. Not copyable: the struct points into the object.
class ErrorBuffer {
 public:
  static constexpr size_t kCapacity = 1024;

  ErrorBuffer() : err_{sizeof(tandem_error), buffer_.data(), kCapacity} { buffer_[0] = '\0'; }
  ErrorBuffer(const ErrorBuffer&) = delete;
  ErrorBuffer& operator=(const ErrorBuffer&) = delete;

  tandem_error* get() { return &err_; }
  // Up to the first NUL, and never past the buffer (a callee that filled it without one is cut).
  std::string message() const { return std::string(buffer_.data(), ::strnlen(buffer_.data(), kCapacity)); }

 private:
  std::array<char, kCapacity> buffer_{};
  tandem_error err_;
};

constexpr const char* status_name(tandem_status status) {
  switch (status) {
    case TANDEM_STATUS_OK:
      return "OK";
    case TANDEM_STATUS_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case TANDEM_STATUS_OUT_OF_MEMORY:
      return "OUT_OF_MEMORY";
    case TANDEM_STATUS_UNSUPPORTED:
      return "UNSUPPORTED";
    case TANDEM_STATUS_INTERNAL:
      return "INTERNAL";
  }
  return "unknown status";
}

// The inverse of guard(): INVALID_ARGUMENT -> std::invalid_argument, UNSUPPORTED -> Unsupported,
// OUT_OF_MEMORY -> std::bad_alloc, anything else -> std::runtime_error.
[[noreturn]] inline void throw_status(tandem_status status, std::string message) {
  if (message.empty()) message = std::string(status_name(status)) + " (the callee gave no message)";
  switch (status) {
    case TANDEM_STATUS_INVALID_ARGUMENT:
      throw std::invalid_argument(message);
    case TANDEM_STATUS_UNSUPPORTED:
      throw Unsupported(message);
    case TANDEM_STATUS_OUT_OF_MEMORY:
      throw std::bad_alloc();
    default:
      throw std::runtime_error(message);
  }
}

// Calls fn(tandem_error*), which returns a tandem_status, and throws if it is not OK.
template <class Fn>
void call_checked(Fn&& fn) {
  ErrorBuffer err;
  const tandem_status status = fn(err.get());
  if (status != TANDEM_STATUS_OK) throw_status(status, err.message());
}

}  // namespace tandem::sdk
