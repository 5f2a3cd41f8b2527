#include "core/error.h"

namespace etp {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kNotSupported: return "not supported";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

}  // namespace etp
