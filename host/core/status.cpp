#include "etp/status.h"

namespace etp {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kDtype: return "dtype";
    case StatusCode::kShape: return "shape";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kNotSupported: return "not supported";
    case StatusCode::kOutOfMemory: return "out of memory";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kIo: return "io";
    case StatusCode::kMalformed: return "malformed";
    case StatusCode::kInvalidState: return "invalid state";
    case StatusCode::kInternal: return "internal";
    case StatusCode::kPlugin: return "plugin";
  }
  return "unknown";
}

StatusCode status_code_from_plugin(int32_t status) {
  // The ABI's codes (plugin_api/etp_plugin.h) have the same numbers as StatusCode.
  switch (status) {
    case 0: return StatusCode::kOk;
    case 1: return StatusCode::kInvalidArgument;
    case 2: return StatusCode::kDtype;
    case 3: return StatusCode::kShape;
    case 100: return StatusCode::kNotFound;
    case 101: return StatusCode::kNotSupported;
    case 102: return StatusCode::kOutOfMemory;
    case 103: return StatusCode::kUnavailable;
    case 200: return StatusCode::kMalformed;
    case 300: return StatusCode::kInvalidState;
    case 301: return StatusCode::kInternal;
    default: break;
  }
  if (status >= 1000) return StatusCode::kPlugin;
  if (status >= 1 && status <= 99) return StatusCode::kInvalidArgument;
  if (status >= 100 && status <= 199) return StatusCode::kUnavailable;
  if (status >= 200 && status <= 299) return StatusCode::kMalformed;
  return StatusCode::kInternal;  // negative, 300..399 and the unassigned gaps
}

}  // namespace etp
