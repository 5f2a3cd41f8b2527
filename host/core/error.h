// Error and Result<T>: how host code reports failure. No exceptions on runtime paths; a
// function that can fail returns Result<T> (or Error for no value), and the message names
// the file, key, index or operator involved and what was expected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace etp {

enum class ErrorCode : int32_t {
  kOk = 0,
  kInvalidArgument,  // the caller passed something unusable
  kNotFound,         // a file, key, method or operator does not exist
  kIo,               // the operating system refused (open, stat, mmap)
  kMalformed,        // a file's bytes break the format
  kNotSupported,     // valid input that etp does not handle; the message says what
  kInternal,         // a bug in etp
};


// A failure with a human-readable message. Cheap to move; copying copies the message.
class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }


 private:
  ErrorCode code_;
  std::string message_;
};

// Either a value or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

// A status: std::nullopt means success.
using Status = std::optional<Error>;

}  // namespace etp

#define ETP_CONCAT_INNER(a, b) a##b
#define ETP_CONCAT(a, b) ETP_CONCAT_INNER(a, b)

// Evaluates `expr` (a Result<T>); on failure returns its Error from the enclosing function,
// otherwise moves the value into `lhs` (a declaration such as `auto x`).
#define ETP_TRY(lhs, expr) ETP_TRY_IMPL(ETP_CONCAT(etp_result_, __LINE__), lhs, expr)
#define ETP_TRY_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                 \
  if (!tmp.ok()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()

// Evaluates `expr` (a Status); on failure returns the Error from the enclosing function.
#define ETP_CHECK_OK(expr)                               \
  do {                                                   \
    ::etp::Status etp_status_ = (expr);                  \
    if (etp_status_) return std::move(*etp_status_);     \
  } while (0)
