// demo_backend: a minimal etp backend plugin, written against etp's plugin ABI alone.
//
// It serves the delegate id "EtpDemoBackend" of demo_affine.pte, which ExecuTorch's exporter wrote
// with a partitioner and preprocess of ours (scripts/export_fixtures.py, group demo_backend).
// The payload is UTF-8 lines: "etp-demo 1", then one line per value in graph order:
//   input V        the delegate's next input          weight V KEY   float32 named data KEY
//   add V A B      elementwise, the smaller operand's elements repeating (trailing broadcast)
//   mul V A B      likewise                           relu V A
//   output V       the delegate's next output
// init parses and checks it and borrows the weights from the host (no copy); execute runs the
// values in order in scratch buffers the handle owns; destroy releases the weights.
// Option: check_finite: true  makes execute fail when an output is NaN or infinite.
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "etp_plugin.h"
#include "etp_plugin.hpp"

namespace {

struct Value {
  std::string kind;    // input, weight, add, mul, relu
  int a = -1, b = -1;  // operands (add, mul, relu)
  int input = -1;      // delegate input index (input)
  std::string key;     // named data key (weight)
  const float* weight = nullptr;
  std::vector<int64_t> shape;  // known at init for weights, at execute for the rest
  std::vector<float> data;     // scratch (input, add, mul, relu)
};

struct Delegate {
  const etp_named_data_map* named_data = nullptr;
  std::vector<Value> values;
  std::vector<int> inputs, outputs;  // value ids
};

struct Backend {
  const etp_host_api* host = nullptr;
  bool check_finite = false;
};

Backend g_backend;

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

etp_status init_impl(void* self, const etp_backend_init_args* args, void** out_handle) {
  auto* backend = static_cast<Backend*>(self);
  const etp_host_api* host = backend->host;
  auto d = std::make_unique<Delegate>();
  d->named_data = args->named_data;
  std::istringstream lines(std::string(static_cast<const char*>(args->payload), args->payload_size));
  std::string line;
  auto bad = [&](const std::string& why) {
    return etp_sdk::fail(host, ETP_ERR_MALFORMED, "EtpDemoBackend: %s:%s delegate %u: %s (line '%s')",
                         args->program_name, args->method_name, args->delegate_index, why.c_str(), line.c_str());
  };
  if (!std::getline(lines, line) || line != "etp-demo 1") return bad("the payload does not start with 'etp-demo 1'");
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    Value v;
    int id = -1;
    if (!(words >> v.kind)) continue;  // blank line
    if (v.kind == "output") {
      if (!(words >> id) || id < 0 || id >= static_cast<int>(d->values.size())) return bad("no such value");
      d->outputs.push_back(id);
      continue;
    }
    if (!(words >> id) || id != static_cast<int>(d->values.size())) return bad("values must be numbered in order");
    const int defined = id;  // operands must come before
    if (v.kind == "input") {
      v.input = static_cast<int>(d->inputs.size());
      d->inputs.push_back(id);
    } else if (v.kind == "weight") {
      if (!(words >> v.key)) return bad("a weight needs a key");
      etp_named_data nd{};
      nd.header = ETP_ABI_HEADER(etp_named_data);
      if (host->find_named_data(host->self, args->named_data, v.key.c_str(), &nd) != ETP_OK) {
        return bad("no named data '" + v.key + "'");
      }
      if (nd.size % sizeof(float) != 0 || (nd.layout != nullptr && nd.layout->dtype != ETP_DTYPE_FLOAT32)) {
        return bad("named data '" + v.key + "' is not float32");
      }
      v.weight = static_cast<const float*>(nd.data);
      v.shape = {static_cast<int64_t>(nd.size / sizeof(float))};
    } else if (v.kind == "add" || v.kind == "mul" || v.kind == "relu") {
      if (!(words >> v.a) || v.a < 0 || v.a >= defined) return bad("a bad first operand");
      if (v.kind != "relu" && (!(words >> v.b) || v.b < 0 || v.b >= defined)) return bad("a bad second operand");
    } else {
      return bad("unknown operation '" + v.kind + "'");
    }
    d->values.push_back(std::move(v));
  }
  if (d->outputs.empty()) return bad("the payload names no output");
  *out_handle = d.release();
  return ETP_OK;
}

etp_status execute_impl(void* self, void* handle, etp_value* const* args, uint32_t num_args) {
  auto* backend = static_cast<Backend*>(self);
  const etp_host_api* host = backend->host;
  auto* d = static_cast<Delegate*>(handle);
  if (num_args != d->inputs.size() + d->outputs.size()) {
    return etp_sdk::fail(host, ETP_ERR_INVALID_ARGUMENT,
                         "EtpDemoBackend: %u arguments, the payload has %zu in, %zu out", num_args, d->inputs.size(),
                         d->outputs.size());
  }
  for (uint32_t i = 0; i < num_args; ++i) {
    if (args[i]->tag != ETP_VALUE_TENSOR || args[i]->u.tensor->dtype != ETP_DTYPE_FLOAT32) {
      return etp_sdk::fail(host, ETP_ERR_DTYPE, "EtpDemoBackend: argument %u is not a float32 tensor", i);
    }
  }
  for (Value& v : d->values) {
    if (v.kind == "input") {
      const etp_tensor& t = *args[v.input]->u.tensor;
      v.shape.assign(t.sizes, t.sizes + t.rank);
      const float* x = static_cast<const float*>(t.data);
      v.data.assign(x, x + etp_sdk::numel(t));  // dense: ExecuTorch tensors have no gaps
    } else if (v.kind != "weight") {
      const Value& a = d->values[v.a];
      const float* pa = a.weight != nullptr ? a.weight : a.data.data();
      const int64_t na = numel(a.shape);
      if (v.kind == "relu") {
        v.shape = a.shape;
        v.data.resize(na);
        for (int64_t i = 0; i < na; ++i) v.data[i] = pa[i] > 0 || std::isnan(pa[i]) ? pa[i] : 0.0f;
        continue;
      }
      const Value& b = d->values[v.b];
      const float* pb = b.weight != nullptr ? b.weight : b.data.data();
      const int64_t nb = numel(b.shape);
      const bool a_larger = na >= nb;
      const int64_t n = a_larger ? na : nb, m = a_larger ? nb : na;
      if (m == 0 || n % m != 0) {
        return etp_sdk::fail(host, ETP_ERR_SHAPE, "EtpDemoBackend: %s of %lld and %lld elements", v.kind.c_str(),
                             static_cast<long long>(na), static_cast<long long>(nb));
      }
      v.shape = a_larger ? a.shape : b.shape;
      v.data.resize(n);
      const float* big = a_larger ? pa : pb;
      const float* small = a_larger ? pb : pa;
      for (int64_t i = 0; i < n; ++i) {
        v.data[i] = v.kind == "add" ? big[i] + small[i % m] : big[i] * small[i % m];
      }
    }
  }
  for (size_t o = 0; o < d->outputs.size(); ++o) {
    const Value& v = d->values[d->outputs[o]];
    etp_tensor* out = args[d->inputs.size() + o]->u.tensor;
    if (etp_status s = etp_sdk::resize(host, out, static_cast<int32_t>(v.shape.size()), v.shape.data())) return s;
    const float* src = v.weight != nullptr ? v.weight : v.data.data();
    float* dst = static_cast<float*>(out->data);
    for (int64_t i = 0; i < numel(v.shape); ++i) {
      if (backend->check_finite && !std::isfinite(src[i])) {
        return etp_sdk::fail(host, ETP_ERR_PLUGIN_BASE + 1, "EtpDemoBackend: output %zu element %lld is %g", o,
                             static_cast<long long>(i), static_cast<double>(src[i]));
      }
      dst[i] = src[i];
    }
  }
  return ETP_OK;
}

// No C++ exception may cross the ABI (std::bad_alloc from a vector, say): guarded() turns one
// into ETP_ERR_INTERNAL with a log line.
etp_status init(void* self, const etp_backend_init_args* args, void** out_handle) {
  return etp_sdk::guarded(static_cast<Backend*>(self)->host, "EtpDemoBackend init",
                          [&] { return init_impl(self, args, out_handle); });
}

etp_status execute(void* self, void* handle, etp_value* const* args, uint32_t num_args) {
  return etp_sdk::guarded(static_cast<Backend*>(self)->host, "EtpDemoBackend execute",
                          [&] { return execute_impl(self, handle, args, num_args); });
}

void destroy(void* self, void* handle) {
  const etp_host_api* host = static_cast<Backend*>(self)->host;
  std::unique_ptr<Delegate> d(static_cast<Delegate*>(handle));
  for (const Value& v : d->values) {
    if (v.weight != nullptr && ETP_ABI_HAS(host, release_named_data)) {
      host->release_named_data(host->self, d->named_data, v.key.c_str());
    }
  }
}

etp_status configure(void* self, const etp_option* options, uint32_t num_options) {
  auto* backend = static_cast<Backend*>(self);
  for (uint32_t i = 0; i < num_options; ++i) {
    const std::string key = options[i].key, value = options[i].value;
    if (key != "check_finite" || (value != "true" && value != "false")) {
      return etp_sdk::fail(backend->host, ETP_ERR_INVALID_ARGUMENT,
                           "demo_backend: unknown option '%s' = '%s' (known: check_finite: true|false)", key.c_str(),
                           value.c_str());
    }
    backend->check_finite = value == "true";
  }
  return ETP_OK;
}

}  // namespace

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  if (host == nullptr || host->header.major != ETP_ABI_MAJOR) return nullptr;  // another major: not for us
  g_backend.host = host;
  static const etp_backend backend = {
      ETP_ABI_HEADER(etp_backend), "EtpDemoBackend", &g_backend, init, execute, destroy};
  static const etp_backend* const backends[] = {&backend};
  static const etp_plugin table = {ETP_ABI_HEADER(etp_plugin),
                                   "demo_backend",
                                   "1.0",
                                   &g_backend,
                                   configure,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   1,
                                   backends,
                                   nullptr};
  return &table;
}
