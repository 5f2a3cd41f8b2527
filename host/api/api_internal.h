// What the public handles (include/etp/etp.h) hold: the host's own objects. Only host/api and
// the layers above it (cli, python) include this.
#pragma once

#include <memory>
#include <string>

#include "bundle/bundle.h"
#include "etp/bench.h"
#include "etp/etp.h"
#include "runtime/method.h"

namespace etp {

struct Bundle::Impl {
  std::unique_ptr<bundle::Bundle> bundle;
  std::string path;  // the manifest, or "" for a BundleSpec
  uint64_t max_instructions = 0;  // BundleOptions::max_instructions
};

struct Method::Impl {
  std::string model;
  MethodInfo info;
  std::unique_ptr<runtime::Method> method;
};

namespace api {

struct Access {
  static Bundle bundle(std::shared_ptr<Bundle::Impl> impl) { return Bundle(std::move(impl)); }
};

// A Manifest for a bundle described in code, checked like a parsed one.
Result<bundle::Manifest> manifest_from_spec(const BundleSpec& spec);
// Opens the bundle `manifest` describes; `path` is what Bundle::path reports.
// Applies options.data_files to a parsed manifest (bundle::replace_data_file for each).
Status replace_data_files(bundle::Manifest* manifest, const BundleOptions& options);
Result<Bundle> open_bundle(bundle::Manifest manifest, const BundleOptions& options, const std::string& path);

// A view of a runtime tensor.
TensorView view_of(const etp_tensor& t);
// A public Value for a runtime value (views stay valid as long as the runtime value is unchanged).
Value value_of(const etp_value& v);
// The metadata of `plan` (no method load).
MethodInfo describe_method(const executorch_flatbuffer::ExecutionPlan& plan);
// A loaded plugin's description (`with_kernels`: also the names of the operators it lists).
PluginInfo describe_plugin(const plugins::PluginLibrary& plugin, bool with_kernels);
// The machine a bench runs on (/proc/cpuinfo, uname, loadavg), and the time now in UTC.
BenchMachine describe_machine();
std::string utc_now();
// A runtime input for a public tensor reference (borrows its sizes and data).
runtime::TensorInput to_input(const TensorRef& ref);

}  // namespace api
}  // namespace etp
