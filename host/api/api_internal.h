// What the public handles (include/etp/etp.h) hold: the host's own objects. Only host/api and
// the layers above it (cli, python) include this.
#pragma once

#include <memory>
#include <string>

#include "bundle/bundle.h"
#include "etp/etp.h"
#include "runtime/method.h"

namespace etp {

struct Bundle::Impl {
  std::unique_ptr<bundle::Bundle> bundle;
  std::string path;  // the manifest, or "" for a BundleSpec
};

struct Method::Impl {
  std::string model;
  MethodInfo info;
  std::unique_ptr<runtime::Method> method;
};

namespace api {

// A view of a runtime tensor.
TensorView view_of(const etp_tensor& t);
// A public Value for a runtime value (views stay valid as long as the runtime value is unchanged).
Value value_of(const etp_value& v);
// The metadata of `plan` (no method load).
MethodInfo describe_method(const executorch_flatbuffer::ExecutionPlan& plan);
// A runtime input for a public tensor reference (borrows its sizes and data).
runtime::TensorInput to_input(const TensorRef& ref);

}  // namespace api
}  // namespace etp
