// etp::Status and etp::Result<T>: how every etp call reports failure, in the public API and
// inside the host alike. No exceptions cross the API.
//
// A Status is a code and a message. The codes keep the numeric ranges of the plugin ABI's
// etp_status (plugin_api/etp_plugin.h), so a plugin's "wrong dtype" reaches the caller as
// StatusCode::kDtype, not as a generic failure. The message carries the whole context chain,
// outermost first: "manifest.yaml:12:5: model 'llama': llama.pte: method 'forward',
// instruction 7, aten::mm.out (plugin portable) failed: dtype mismatch ...".
//
// Thread-safety: plain values; copy or move them freely between threads.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace etp {

enum class StatusCode : int32_t {
  kOk = 0,
  // 1..99: the caller's arguments are wrong.
  kInvalidArgument = 1,  // e.g. an unknown option, a wrong input count, a manifest error
  kDtype = 2,            // a tensor has a dtype the callee does not handle
  kShape = 3,            // a tensor has a shape or rank the callee does not accept
  // 100..199: something is missing or unavailable.
  kNotFound = 100,      // a file, model, method, key, operator or backend does not exist
  kNotSupported = 101,  // valid input that etp (or a plugin) does not handle; the message says what
  kOutOfMemory = 102,
  kUnavailable = 103,  // e.g. a plugin library that cannot be loaded on this machine
  kIo = 104,           // the operating system refused (open, read, mmap); the message quotes why
  // 200..299: a file's or payload's bytes break its format.
  kMalformed = 200,
  // 300..399: the callee is in a state that forbids the call, or has a bug.
  kInvalidState = 300,
  kInternal = 301,
  // 1000 and up: a plugin-specific failure; the message quotes the plugin.
  kPlugin = 1000,
};

// A short lower-case name: "invalid argument", "dtype", "not found", ...
const char* status_code_name(StatusCode code);

// The StatusCode for a plugin's etp_status: known codes map to themselves, unknown ones to the
// generic code of their range (1..99 invalid argument, 100..199 unavailable, 200..299 malformed,
// 300..399 internal, 1000+ plugin).
StatusCode status_code_from_plugin(int32_t status);

class [[nodiscard]] Status {
 public:
  // Success.
  Status() = default;
  // A failure (or success, for kOk) with a message naming what failed and what was expected.
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status success() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The same failure with `context` in front: "context: message". Success stays success.
  Status with_context(const std::string& context) const& {
    return ok() ? *this : Status(code_, context + ": " + message_);
  }
  Status with_context(const std::string& context) && {
    if (!ok()) message_ = context + ": " + message_;
    return std::move(*this);
  }

  // "<code name>: <message>", or "ok".
  std::string to_string() const { return ok() ? "ok" : std::string(status_code_name(code_)) + ": " + message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a failed Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  // `status` must be a failure; a success without a value is turned into kInternal.
  Result(Status status)  // NOLINT: implicit by design
      : state_(status.ok() ? Status(StatusCode::kInternal, "a Result was given a success status and no value")
                           : std::move(status)) {}

  bool ok() const { return state_.index() == 0; }

  // The value; only when ok().
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The failure, or success when ok() (so `status()` is safe to log or test either way).
  const Status& status() const& { return ok() ? success_ : std::get<1>(state_); }
  Status status() && { return ok() ? Status() : std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Status> state_;
  static inline const Status success_{};
};

}  // namespace etp
