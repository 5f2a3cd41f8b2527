// How host code reports failure: etp::Status and etp::Result<T> (public, include/etp/status.h)
// plus the two propagation macros the host uses. No exceptions on runtime paths; a function that
// can fail returns Result<T> (or Status for no value), and the message names the file, key,
// index or operator involved and what was expected.
#pragma once

#include "etp/status.h"

#define ETP_CONCAT_INNER(a, b) a##b
#define ETP_CONCAT(a, b) ETP_CONCAT_INNER(a, b)

// Evaluates `expr` (a Result<T>); on failure returns its Status from the enclosing function,
// otherwise moves the value into `lhs` (a declaration such as `auto x`).
#define ETP_TRY(lhs, expr) ETP_TRY_IMPL(ETP_CONCAT(etp_result_, __LINE__), lhs, expr)
#define ETP_TRY_IMPL(tmp, lhs, expr)             \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()

// Evaluates `expr` (a Status); on failure returns it from the enclosing function.
#define ETP_CHECK_OK(expr)                     \
  do {                                         \
    ::etp::Status etp_status_ = (expr);        \
    if (!etp_status_.ok()) return etp_status_; \
  } while (0)
