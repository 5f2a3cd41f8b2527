// The Python module `etp`: the public C++ API (include/etp) with numpy arrays in and out.
//
//   import etp
//   b = etp.Bundle("manifests/lora_forward.yaml")
//   outs = b.run("base", [tokens, pos])          # list of numpy arrays
//
// Failures raise etp.Error, whose `code` is the status name ("not found", "dtype", ...) and
// `status` its number (the plugin ABI's ranges). Inputs are copied in, except through
// Method.bind_input, which uses an array without a copy where the C++ API can borrow it (the
// module keeps such arrays alive until they are replaced). A Method serialises its own calls;
// execute releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "etp/bench.h"
#include "etp/etp.h"
#include "etp/generate.h"
#include "etp/tokenizer.h"
#include "etp/train.h"
#include "format/file_kind.h"

namespace py = pybind11;

namespace {

// etp.Error; a strong reference kept for the life of the process (modules are never unloaded,
// and a static py::object would be released after the interpreter is gone).
PyObject* g_error = nullptr;

[[noreturn]] void raise(const etp::Status& status) {
  py::object error = py::handle(g_error)(status.message());
  error.attr("code") = etp::status_code_name(status.code());
  error.attr("status") = static_cast<int>(status.code());
  PyErr_SetObject(g_error, error.ptr());
  throw py::error_already_set();
}

template <typename T>
T unwrap(etp::Result<T> result) {
  if (!result.ok()) raise(result.status());
  return std::move(*result);
}

void check(const etp::Status& status) {
  if (!status.ok()) raise(status);
}

// numpy dtype character codes <-> etp dtypes. bfloat16 has no numpy dtype (see to_array).
struct DTypeName {
  etp::DType dtype;
  const char* numpy;
};
constexpr DTypeName kDTypes[] = {
    {etp::DType::kFloat32, "float32"},     {etp::DType::kFloat64, "float64"},       {etp::DType::kFloat16, "float16"},
    {etp::DType::kInt64, "int64"},         {etp::DType::kInt32, "int32"},           {etp::DType::kInt16, "int16"},
    {etp::DType::kInt8, "int8"},           {etp::DType::kUInt8, "uint8"},           {etp::DType::kBool, "bool"},
    {etp::DType::kUInt16, "uint16"},       {etp::DType::kUInt32, "uint32"},         {etp::DType::kUInt64, "uint64"},
    {etp::DType::kQInt8, "int8"},          {etp::DType::kQUInt8, "uint8"},          {etp::DType::kQInt32, "int32"},
    {etp::DType::kComplex64, "complex64"}, {etp::DType::kComplex128, "complex128"},
};

etp::DType dtype_of(const py::array& a) {
  const std::string name = py::str(a.dtype());
  for (const DTypeName& d : kDTypes) {
    if (name == d.numpy) return d.dtype;
  }
  raise(etp::Status(etp::StatusCode::kDtype, "numpy dtype " + name + " has no etp dtype"));
}

py::dtype numpy_dtype(etp::DType dtype) {
  for (const DTypeName& d : kDTypes) {
    if (d.dtype == dtype) return py::dtype(d.numpy);
  }
  raise(etp::Status(etp::StatusCode::kNotSupported,
                    std::string("dtype ") + etp::dtype_name(dtype) + " has no numpy dtype"));
}

// An owned tensor as a numpy array (a copy). bfloat16 becomes float32, exactly.
py::array to_array(const etp::Tensor& t) {
  std::vector<py::ssize_t> shape(t.sizes.begin(), t.sizes.end());
  if (t.dtype == etp::DType::kBFloat16) {
    py::array_t<float> out(shape);
    float* dst = out.mutable_data();
    for (int64_t i = 0; i < t.numel(); ++i) dst[i] = static_cast<float>(t.value(i));
    return std::move(out);
  }
  py::array out(numpy_dtype(t.dtype), shape);
  if (!t.data.empty()) std::memcpy(out.mutable_data(), t.data.data(), t.data.size());
  return out;
}

// A C-contiguous view (or copy) of `object` and the reference the C++ API takes.
struct Input {
  py::array array;
  etp::TensorRef ref;
};

Input to_input(const py::handle& object) {
  Input in;
  in.array = py::array::ensure(object, py::array::c_style);
  if (!in.array) {
    raise(etp::Status(etp::StatusCode::kInvalidArgument, "an input is not convertible to a numpy array"));
  }
  in.ref.dtype = dtype_of(in.array);
  for (py::ssize_t d = 0; d < in.array.ndim(); ++d) in.ref.sizes.push_back(in.array.shape(d));
  in.ref.data = in.array.data();
  in.ref.nbytes = static_cast<size_t>(in.array.nbytes());
  return in;
}

py::dict describe(const etp::ValueInfo& v) {
  py::dict d;
  d["kind"] = etp::value_kind_name(v.kind);
  if (v.kind == etp::ValueKind::kTensor) {
    d["dtype"] = etp::dtype_name(v.tensor.dtype);
    d["shape"] = v.tensor.sizes;
    d["dim_order"] = std::vector<int>(v.tensor.dim_order.begin(), v.tensor.dim_order.end());
    d["dynamic"] = v.tensor.dynamic;
  }
  return d;
}

py::dict describe(const etp::MethodInfo& m) {
  py::dict d;
  d["name"] = m.name;
  py::list inputs, outputs;
  for (const etp::ValueInfo& v : m.inputs) inputs.append(describe(v));
  for (const etp::ValueInfo& v : m.outputs) outputs.append(describe(v));
  d["inputs"] = inputs;
  d["outputs"] = outputs;
  d["operators"] = m.operators;
  d["backends"] = m.backends;
  return d;
}

// Locks `mutex`, waiting without the GIL: a thread holding a method's lock releases the GIL while
// it executes and needs the GIL back to finish, so waiting with the GIL would deadlock.
std::unique_lock<std::mutex> lock_without_gil(std::mutex& mutex) {
  std::unique_lock<std::mutex> lock(mutex, std::defer_lock);
  py::gil_scoped_release release;
  lock.lock();
  return lock;
}

// A loaded method. Inputs are copied in, except through bind_input, which may borrow an array
// (kept alive here until that input is set again). One call at a time; inputs are converted to
// arrays before the lock is taken (converting may run Python code).
class PyMethod {
 public:
  explicit PyMethod(etp::Method method) : method_(std::move(method)), borrowed_(method_.num_inputs()) {}

  py::list run(const py::sequence& inputs) {
    std::vector<Input> converted;
    for (const py::handle& item : inputs) converted.push_back(to_input(item));
    std::vector<etp::TensorRef> refs;
    for (const Input& in : converted) refs.push_back(in.ref);
    auto lock = acquire();
    check(method_.set_inputs(refs));  // copies: nothing stays borrowed
    for (py::object& array : borrowed_) array = py::object();
    execute_locked();
    py::list out;
    for (size_t i = 0; i < method_.num_outputs(); ++i) out.append(output_locked(i));
    return out;
  }

  void set_input(size_t index, const py::handle& value, bool borrow) {
    Input in = to_input(value);
    auto lock = acquire();
    set_locked(index, in, borrow);
  }

  bool input_borrowed(size_t index) {
    auto lock = acquire();
    return method_.input_borrowed(index);
  }

  void execute() {
    auto lock = acquire();
    execute_locked();
  }

  // Under the method's lock: an execute on another thread reads the budget at every instruction.
  uint64_t instruction_budget() {
    auto lock = acquire();
    return method_.instruction_budget();
  }
  void set_instruction_budget(uint64_t instructions) {
    auto lock = acquire();
    method_.set_instruction_budget(instructions);
  }

  py::array output(size_t index) {
    auto lock = acquire();
    if (index >= method_.num_outputs()) {
      raise(etp::Status(etp::StatusCode::kInvalidArgument,
                        "method '" + method_.name() + "' has " + std::to_string(method_.num_outputs()) + " outputs"));
    }
    return output_locked(index);
  }

  py::dict state() {
    auto lock = acquire();
    py::dict out;
    for (const etp::StateInfo& s : method_.state()) out[py::str(s.name)] = to_array(s.tensor.to_tensor());
    return out;
  }

  void reset_state() {
    auto lock = acquire();
    method_.reset_state();
  }

  const etp::Method& method() const { return method_; }

 private:
  std::unique_lock<std::mutex> acquire() { return lock_without_gil(mutex_); }

  void set_locked(size_t index, const Input& in, bool borrow) {
    check(borrow ? method_.bind_input(index, in.ref) : method_.set_input(index, in.ref));
    if (index < borrowed_.size()) {
      borrowed_[index] = method_.input_borrowed(index) ? py::object(in.array) : py::object();
    }
  }

  void execute_locked() {
    etp::Status status;
    {
      py::gil_scoped_release release;
      status = method_.execute();
    }
    check(status);
  }

  py::array output_locked(size_t index) { return to_array(unwrap(method_.output(index).to_tensor())); }

  etp::Method method_;
  std::vector<py::object> borrowed_;  // arrays whose memory the method uses, by input
  std::mutex mutex_;
};

// A bundle, with one loaded method per (model, method) for Bundle.run, so state such as a KV
// cache carries from one call to the next as it does for a loaded program.
// Runs `f` without the GIL (a load or a run that takes long and calls no Python).
template <typename F>
auto without_gil(F&& f) {
  py::gil_scoped_release release;
  return f();
}

// The document `etp generate --json` prints, for Python.
py::dict generation_dict(const std::string& model, const etp::GenerateResult& r) {
  py::dict d;
  d["model"] = model;
  d["prompt_tokens"] = r.prompt_tokens;
  d["generated_tokens"] = r.generated_tokens;
  d["stop_reason"] = r.stop_reason;
  d["prefill_calls"] = r.prefill_calls;
  d["ttft_ms"] = r.ttft_ms;
  d["prefill_tokens_per_s"] = r.prefill_tokens_per_s;
  d["decode_tokens_per_s"] = r.decode_tokens_per_s;
  py::dict rss;
  rss["after_load"] = r.rss_after_load / (1024.0 * 1024.0);
  rss["after_prefill"] = r.rss_after_prefill / (1024.0 * 1024.0);
  rss["after_generation"] = r.rss_after_generation / (1024.0 * 1024.0);
  d["rss_mib"] = rss;
  return d;
}

etp::GenerateOptions generate_options(int64_t max_new_tokens, double temperature, double top_p, uint64_t seed,
                                      const std::vector<int64_t>& eos_ids, bool stop_at_eos) {
  etp::GenerateOptions options;
  options.max_new_tokens = max_new_tokens;
  options.temperature = temperature;
  options.top_p = top_p;
  options.seed = seed;
  options.eos_ids = eos_ids;
  options.stop_at_eos = stop_at_eos;
  return options;
}

// on_token(id) from C++ threads that do not hold the GIL.
std::function<void(int64_t)> token_callback(const py::object& on_token) {
  if (on_token.is_none()) return {};
  return [&on_token](int64_t token) {
    py::gil_scoped_acquire acquire;
    on_token(token);
  };
}

// etp.Generator: one model's generation method loaded once (etp::Generator); one call at a time.
class PyGenerator {
 public:
  explicit PyGenerator(etp::Generator g) : generator_(std::move(g)) {}
  py::dict generate(const std::vector<int64_t>& prompt, const etp::GenerateOptions& options,
                    const py::object& on_token) {
    auto lock = lock_without_gil(mutex_);
    const auto callback = token_callback(on_token);
    return generation_dict(generator_.model(),
                           unwrap(without_gil([&] { return generator_.generate(prompt, options, callback); })));
  }
  const etp::Generator& get() const { return generator_; }

 private:
  etp::Generator generator_;
  std::mutex mutex_;
};

// etp.TrainingSession: a joint forward-backward method (etp::TrainingSession); one call at a time.
class PyTraining {
 public:
  explicit PyTraining(etp::TrainingSession s) : session_(std::move(s)) {}
  double forward_backward(const py::sequence& inputs) {
    std::vector<Input> converted;
    for (const py::handle& item : inputs) converted.push_back(to_input(item));
    std::vector<etp::TensorRef> refs;
    for (const Input& in : converted) refs.push_back(in.ref);
    auto lock = lock_without_gil(mutex_);
    check(without_gil([&] { return session_.forward_backward(refs); }));
    return session_.loss();
  }
  py::array tensor(const std::string& name, bool gradient) {
    auto lock = lock_without_gil(mutex_);
    int64_t n = 0;
    const float* data = gradient ? session_.gradient(name, &n) : session_.parameter(name, &n);
    if (data == nullptr) {
      raise(etp::Status(etp::StatusCode::kNotFound, "no " + std::string(gradient ? "gradient" : "parameter") + " '" +
                                                        name + "'" +
                                                        (gradient ? " (run forward_backward first)" : "")));
    }
    const etp::TensorView v = session_.parameter_view(name);
    py::array_t<float> out(std::vector<py::ssize_t>(v.sizes().begin(), v.sizes().end()));
    std::memcpy(out.mutable_data(), data, static_cast<size_t>(n) * sizeof(float));
    return out;
  }
  void step(etp::Optimizer& optimizer) {
    auto lock = lock_without_gil(mutex_);
    check(optimizer.step(session_));
  }
  void save(const etp::Optimizer* optimizer, const std::string& path) {
    auto lock = lock_without_gil(mutex_);
    check(etp::save_checkpoint(session_, optimizer, path));
  }
  void load(etp::Optimizer* optimizer, const std::string& path) {
    auto lock = lock_without_gil(mutex_);
    check(etp::load_checkpoint(session_, optimizer, path));
  }
  const std::vector<std::string>& names() const { return session_.parameter_names(); }

 private:
  etp::TrainingSession session_;
  std::mutex mutex_;
};

class PyBundle {
 public:
  explicit PyBundle(etp::Bundle bundle) : bundle_(std::move(bundle)) {}

  const etp::Bundle& bundle() const { return bundle_; }

  std::shared_ptr<PyMethod> cached(const std::string& model, const std::string& method) {
    auto lock = lock_without_gil(mutex_);
    const std::string name = method.empty() ? unwrap(bundle_.model(model)).default_method : method;
    auto& slot = methods_[{model, name}];
    if (!slot) slot = std::make_shared<PyMethod>(unwrap(bundle_.load_method(model, name)));
    return slot;
  }

  void forget(const std::string& model) {
    auto lock = lock_without_gil(mutex_);
    for (auto it = methods_.begin(); it != methods_.end();) {
      it = model.empty() || it->first.first == model ? methods_.erase(it) : std::next(it);
    }
  }

 private:
  etp::Bundle bundle_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<PyMethod>> methods_;
};

etp::BundleOptions options_of(const std::vector<std::string>& plugin_paths, bool use_environment,
                              const std::map<std::string, std::string>& data_files = {}, bool read_files = false,
                              uint64_t memory_budget = 0, uint64_t max_instructions = 0) {
  etp::BundleOptions options{plugin_paths, use_environment, {data_files.begin(), data_files.end()}};
  options.read_files = read_files;
  options.memory_budget = memory_budget;
  options.max_instructions = max_instructions;
  return options;
}

}  // namespace

PYBIND11_MODULE(etp, m) {
  m.doc() = "etp: run ExecuTorch programs (.pte) with separate weights (.ptd) through plugins";
  m.attr("__version__") = etp::version();

  g_error = PyErr_NewExceptionWithDoc("etp.Error",
                                      "An etp failure. `code` is the status name ('not found', 'dtype', 'shape', "
                                      "...), `status` its number; the message names the file, method, operator or key.",
                                      PyExc_RuntimeError, nullptr);
  if (g_error == nullptr) throw py::error_already_set();
  m.attr("Error") = py::handle(g_error);

  m.def(
      "inspect",
      [](const std::string& path) {
        const std::string doc = unwrap(etp::inspect_json(path));
        return py::module_::import("json").attr("loads")(doc);
      },
      py::arg("path"), "Describes a .pte or .ptd file: the entry `etp inspect --json PATH` prints under 'files'.");

  m.def(
      "bench",
      [](const std::string& target, const std::vector<std::string>& data, const std::vector<std::string>& models,
         const std::vector<std::string>& configs, const std::vector<int>& threads, int64_t warmup, int64_t repetitions,
         double min_time, bool profile, uint64_t seed, const std::vector<std::string>& plugins,
         const std::vector<std::string>& plugin_paths) {
        etp::BenchOptions options;
        options.models = models;
        for (const std::string& c : configs) options.configs.push_back(unwrap(etp::parse_bench_config(c)));
        options.threads = threads;
        options.warmup = warmup;
        options.repetitions = repetitions;
        options.max_repetitions = std::max(options.max_repetitions, repetitions);
        options.min_time_s = min_time;
        options.profile = profile;
        options.seed = seed;
        options.bundle.plugin_paths = plugin_paths;
        const bool program = etp::format::file_kind(target) == etp::format::FileKind::kProgram;  // as the CLI
        std::string doc;
        etp::Status failure;
        {
          py::gil_scoped_release release;  // benches take seconds; let other threads run
          auto report = program ? etp::run_bench(etp::BundleSpec::for_program(target, data, plugins), options)
                                : etp::run_bench(target, options);
          if (report.ok()) doc = report->to_json();
          failure = report.status();
        }
        if (!failure.ok()) raise(failure);
        return py::module_::import("json").attr("loads")(doc);
      },
      py::arg("target"), py::arg("data") = std::vector<std::string>{}, py::arg("models") = std::vector<std::string>{},
      py::arg("configs") = std::vector<std::string>{}, py::arg("threads") = std::vector<int>{}, py::arg("warmup") = 2,
      py::arg("repetitions") = 10, py::arg("min_time") = 0.5, py::arg("profile") = false, py::arg("seed") = 0,
      py::arg("plugins") = etp::default_plugins(), py::arg("plugin_paths") = std::vector<std::string>{},
      "Benchmarks a manifest's models (or a .pte with its data files) on plugin sets side by side, like `etp "
      "bench`; returns the document `etp bench --json` prints. configs: 'NAME=PLUGIN[+PLUGIN...][:key=value,...]'.");

  m.def(
      "set_log_level",
      [](const std::string& level) {
        static const std::map<std::string, etp::LogLevel> kLevels = {{"debug", etp::LogLevel::kDebug},
                                                                     {"info", etp::LogLevel::kInfo},
                                                                     {"warning", etp::LogLevel::kWarning},
                                                                     {"error", etp::LogLevel::kError},
                                                                     {"none", etp::LogLevel::kNone}};
        auto it = kLevels.find(level);
        if (it == kLevels.end()) {
          raise(etp::Status(etp::StatusCode::kInvalidArgument,
                            "log level '" + level + "': expected debug, info, warning, error or none"));
        }
        etp::set_log_level(it->second);
      },
      py::arg("level"), "Prints what plugins log at this level and above to stderr (default: none).");

  py::class_<PyMethod, std::shared_ptr<PyMethod>>(m, "Method", "One loaded method of a model, with its own state.")
      .def_property_readonly("model", [](const PyMethod& p) { return p.method().model(); })
      .def_property_readonly("name", [](const PyMethod& p) { return p.method().name(); })
      .def_property_readonly("num_inputs", [](const PyMethod& p) { return p.method().num_inputs(); })
      .def_property_readonly("num_outputs", [](const PyMethod& p) { return p.method().num_outputs(); })
      .def_property_readonly(
          "info", [](const PyMethod& p) { return describe(p.method().info()); },
          "Inputs, outputs (kind, dtype, shape, dim_order, dynamic), operators, backends.")
      .def("run", &PyMethod::run, py::arg("inputs"), "Sets every input, executes, returns the outputs as arrays.")
      .def(
          "set_input", [](PyMethod& p, size_t i, const py::handle& a) { p.set_input(i, a, /*borrow=*/false); },
          py::arg("index"), py::arg("array"), "Copies `array` into input `index`.")
      .def(
          "bind_input", [](PyMethod& p, size_t i, const py::handle& a) { p.set_input(i, a, /*borrow=*/true); },
          py::arg("index"), py::arg("array"),
          "Uses `array` for input `index` without a copy where the program allows it (see input_borrowed); "
          "the method then reads the array's current contents at every execute until the input is set again.")
      .def("execute", &PyMethod::execute)
      .def("input_borrowed", &PyMethod::input_borrowed, py::arg("index"),
           "True when input `index` uses the caller's array without a copy.")
      .def("output", &PyMethod::output, py::arg("index"), "A copy of output `index` as an array.")
      .def("state", &PyMethod::state, "The mutable state tensors (e.g. KV caches) by name, as copies.")
      .def("reset_state", &PyMethod::reset_state, "Restores the state tensors to their initial contents.")
      .def_property(
          "instruction_budget", [](PyMethod& p) { return p.instruction_budget(); },
          [](PyMethod& p, uint64_t n) { p.set_instruction_budget(n); },
          "The most instructions one execute may run before it fails (stops a looping program).")
      .def(
          "kernel_providers", [](const PyMethod& p) { return p.method().kernel_providers(); },
          "(operator, plugin) for every operator of the method.")
      .def("__repr__",
           [](const PyMethod& p) { return "<etp.Method " + p.method().model() + "." + p.method().name() + ">"; });

  py::class_<etp::Tokenizer, std::shared_ptr<etp::Tokenizer>>(m, "Tokenizer",
                                                              "A SentencePiece model: text to token ids and back.")
      .def(py::init([](const std::string& path) {
             return std::make_shared<etp::Tokenizer>(unwrap(etp::Tokenizer::open(path)));
           }),
           py::arg("path"), "Reads a SentencePiece .model file.")
      .def(
          "encode",
          [](const etp::Tokenizer& t, const std::string& text, bool add_bos) {
            return unwrap(t.encode(text, add_bos));
          },
          py::arg("text"), py::arg("add_bos") = false, "Token ids of text (BOS first when add_bos).")
      .def(
          "decode", [](const etp::Tokenizer& t, const std::vector<int64_t>& ids) { return unwrap(t.decode(ids)); },
          py::arg("ids"), "The text of token ids.")
      .def_property_readonly("vocab_size", &etp::Tokenizer::vocab_size)
      .def_property_readonly("bos_id", &etp::Tokenizer::bos_id)
      .def_property_readonly("eos_id", &etp::Tokenizer::eos_id);

  py::class_<PyGenerator, std::shared_ptr<PyGenerator>>(
      m, "Generator",
      "A model's generation method loaded once (etp::Generator): Generator(bundle, model) reads its metadata "
      "methods and checks its signature; each generate() starts a new sequence over the same KV cache.")
      .def(py::init([](const PyBundle& b, const std::string& model, const std::string& method) {
             return std::make_shared<PyGenerator>(
                 unwrap(without_gil([&] { return etp::Generator::load(b.bundle(), model, method); })));
           }),
           py::arg("bundle"), py::arg("model"), py::arg("method") = "forward")
      .def(
          "generate",
          [](PyGenerator& g, const std::vector<int64_t>& prompt, int64_t max_new_tokens, double temperature,
             double top_p, uint64_t seed, const std::vector<int64_t>& eos_ids, bool stop_at_eos, py::object on_token) {
            return g.generate(prompt, generate_options(max_new_tokens, temperature, top_p, seed, eos_ids, stop_at_eos),
                              on_token);
          },
          py::arg("prompt"), py::arg("max_new_tokens") = 32, py::arg("temperature") = 0.0, py::arg("top_p") = 1.0,
          py::arg("seed") = 0, py::arg("eos_ids") = std::vector<int64_t>{}, py::arg("stop_at_eos") = true,
          py::arg("on_token") = py::none(), "As Bundle.generate, on the loaded method.")
      .def_property_readonly(
          "metadata",
          [](const PyGenerator& g) {
            const etp::GenerationMetadata& m = g.get().metadata();
            py::dict d;
            d["max_seq_len"] = m.max_seq_len;
            d["max_context_len"] = m.max_context_len;
            d["vocab_size"] = m.vocab_size;
            d["bos_id"] = m.bos_id;
            d["eos_ids"] = m.eos_ids;
            d["use_kv_cache"] = m.use_kv_cache;
            d["enable_dynamic_shape"] = m.enable_dynamic_shape;
            return d;
          },
          "What the program's metadata methods say.");

  py::class_<etp::Optimizer, std::shared_ptr<etp::Optimizer>>(m, "Optimizer", "An optimizer (SGD or AdamW).")
      .def_property_readonly("step_count", [](const etp::Optimizer& o) { return o.state().step; })
      .def_property_readonly("name", [](const etp::Optimizer& o) { return std::string(o.name()); });
  py::class_<etp::Sgd, etp::Optimizer, std::shared_ptr<etp::Sgd>>(
      m, "SGD", "ExecuTorch's SGD: lr, momentum, dampening, weight_decay, nesterov, in its update order.")
      .def(py::init([](double lr, double momentum, double dampening, double weight_decay, bool nesterov) {
             return std::make_shared<etp::Sgd>(etp::SgdOptions{lr, momentum, dampening, weight_decay, nesterov});
           }),
           py::arg("lr") = 0.01, py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0,
           py::arg("nesterov") = false);
  py::class_<etp::AdamW, etp::Optimizer, std::shared_ptr<etp::AdamW>>(m, "AdamW", "AdamW with torch's semantics.")
      .def(py::init([](double lr, double beta1, double beta2, double eps, double weight_decay) {
             return std::make_shared<etp::AdamW>(etp::AdamWOptions{lr, beta1, beta2, eps, weight_decay});
           }),
           py::arg("lr") = 1e-3, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
           py::arg("weight_decay") = 1e-2);
  py::class_<PyTraining, std::shared_ptr<PyTraining>>(
      m, "TrainingSession",
      "A joint forward-backward method (ExecuTorch's training export): forward_backward(inputs) returns the loss; "
      "an optimizer's step(session) updates the weights in place.")
      .def(py::init([](const PyBundle& b, const std::string& model, const std::string& method) {
             return std::make_shared<PyTraining>(
                 unwrap(without_gil([&] { return etp::TrainingSession::load(b.bundle(), model, method); })));
           }),
           py::arg("bundle"), py::arg("model"), py::arg("method") = "forward")
      .def("forward_backward", &PyTraining::forward_backward, py::arg("inputs"))
      .def("parameter_names", &PyTraining::names)
      .def(
          "parameter", [](PyTraining& t, const std::string& name) { return t.tensor(name, false); }, py::arg("name"),
          "A copy of the parameter.")
      .def(
          "gradient", [](PyTraining& t, const std::string& name) { return t.tensor(name, true); }, py::arg("name"),
          "A copy of the last step's gradient.")
      .def(
          "step", [](PyTraining& t, etp::Optimizer& o) { t.step(o); }, py::arg("optimizer"),
          "The optimizer's update from the last forward_backward.")
      .def(
          "save_checkpoint",
          [](PyTraining& t, const std::string& path, const std::shared_ptr<etp::Optimizer>& o) {
            t.save(o.get(), path);
          },
          py::arg("path"), py::arg("optimizer") = nullptr,
          "Writes the parameters (and the optimizer's state) as a .ptd, crash-safely.")
      .def(
          "load_checkpoint",
          [](PyTraining& t, const std::string& path, const std::shared_ptr<etp::Optimizer>& o) {
            t.load(o.get(), path);
          },
          py::arg("path"), py::arg("optimizer") = nullptr);

  py::class_<PyBundle, std::shared_ptr<PyBundle>>(m, "Bundle", "Plugins, data files and models, opened once.")
      .def(
          py::init([](const std::string& manifest, const std::vector<std::string>& plugin_paths, bool use_env,
                      const std::map<std::string, std::string>& data_files, bool read_files, uint64_t memory_budget,
                      uint64_t max_instructions) {
            return std::make_shared<PyBundle>(unwrap(etp::Bundle::open(
                manifest, options_of(plugin_paths, use_env, data_files, read_files, memory_budget, max_instructions))));
          }),
          py::arg("manifest"), py::arg("plugin_paths") = std::vector<std::string>{}, py::arg("use_environment") = true,
          py::arg("data_files") = std::map<std::string, std::string>{}, py::arg("read_files") = false,
          py::arg("memory_budget") = 0, py::arg("max_instructions") = 0,
          "Opens the bundle a YAML manifest describes. data_files={'adapter': 'trained.ptd'} reads a data "
          "entry from another file (e.g. a trained adapter; its manifest sha256 is not checked). read_files=True "
          "reads programs and data files into memory instead of mapping them (files that may change on disk). "
          "memory_budget: bytes all loaded methods may plan (0: the manifest's, else 3/4 of physical memory). "
          "max_instructions: each execute's instruction budget (0: each model's, else 10,000,000).")
      .def_static(
          "from_program",
          [](const std::string& program, const std::vector<std::string>& data, const std::vector<std::string>& plugins,
             const std::string& model, const std::vector<std::string>& plugin_paths, bool use_env,
             const std::map<std::string, std::map<std::string, std::string>>& plugin_options, bool read_files,
             uint64_t memory_budget, uint64_t max_instructions) {
            etp::BundleSpec spec = etp::BundleSpec::for_program(program, data, plugins, model);
            for (const auto& [plugin, opts] : plugin_options) {
              // (A lambda may not capture a structured binding in C++17: clang refuses it.)
              const std::string& name = plugin;
              auto it = std::find_if(spec.plugins.begin(), spec.plugins.end(),
                                     [&](const etp::PluginSpec& p) { return p.library == name || p.name == name; });
              if (it == spec.plugins.end())
                throw py::value_error("plugin_options: no plugin '" + name + "' in plugins");
              for (const auto& [key, value] : opts) it->options.emplace_back(key, value);
            }
            return std::make_shared<PyBundle>(unwrap(etp::Bundle::open(
                spec, options_of(plugin_paths, use_env, {}, read_files, memory_budget, max_instructions))));
          },
          py::arg("program"), py::arg("data") = std::vector<std::string>{}, py::arg("plugins") = etp::default_plugins(),
          py::arg("model") = "model", py::arg("plugin_paths") = std::vector<std::string>{},
          py::arg("use_environment") = true,
          py::arg("plugin_options") = std::map<std::string, std::map<std::string, std::string>>{},
          py::arg("read_files") = false, py::arg("memory_budget") = 0, py::arg("max_instructions") = 0,
          "A bundle of one program (model 'model') with its data files and plugins; plugin_options maps a plugin "
          "as named in `plugins` to its options, e.g. {'xnnpack': {'threads': '1'}}. read_files, memory_budget "
          "and max_instructions as for Bundle().")
      .def_property_readonly("path", [](const PyBundle& b) { return b.bundle().path(); })
      .def(
          "models", [](const PyBundle& b) { return b.bundle().models(); }, "Model names, in manifest order.")
      .def(
          "model",
          [](const PyBundle& b, const std::string& name) {
            const etp::ModelInfo info = unwrap(b.bundle().model(name));
            py::dict d;
            d["name"] = info.name;
            d["program"] = info.program;
            d["data_files"] = info.data_files;
            d["default_method"] = info.default_method;
            d["tokenizer"] = info.tokenizer;
            py::dict methods;
            for (const etp::MethodInfo& method : info.methods) methods[py::str(method.name)] = describe(method);
            d["methods"] = methods;
            return d;
          },
          py::arg("name"), "A model's program, data files and methods (inputs, outputs, operators, backends).")
      .def(
          "methods",
          [](const PyBundle& b, const std::string& name) {
            std::vector<std::string> names;
            for (const etp::MethodInfo& method : unwrap(b.bundle().model(name)).methods) names.push_back(method.name);
            return names;
          },
          py::arg("model"), "A model's method names.")
      .def(
          "plugins",
          [](const PyBundle& b) {
            py::list out;
            for (const etp::PluginInfo& p : b.bundle().plugins()) {
              py::dict d;
              d["name"] = p.name;
              d["library"] = p.library;
              d["version"] = p.version;
              d["backends"] = p.backends;
              d["num_kernels"] = p.num_kernels;
              out.append(d);
            }
            return out;
          },
          "The loaded plugins, in priority order.")
      .def(
          "generate",
          [](const PyBundle& b, const std::string& model, const std::vector<int64_t>& prompt, int64_t max_new_tokens,
             double temperature, double top_p, uint64_t seed, const std::vector<int64_t>& eos_ids,
             const std::string& method, bool stop_at_eos, py::object on_token) {
            etp::GenerateOptions options =
                generate_options(max_new_tokens, temperature, top_p, seed, eos_ids, stop_at_eos);
            options.method = method;
            const auto callback = token_callback(on_token);
            return generation_dict(
                model,
                unwrap(without_gil([&] { return etp::generate(b.bundle(), model, prompt, options, callback); })));
          },
          py::arg("model"), py::arg("prompt"), py::arg("max_new_tokens") = 32, py::arg("temperature") = 0.0,
          py::arg("top_p") = 1.0, py::arg("seed") = 0, py::arg("eos_ids") = std::vector<int64_t>{},
          py::arg("method") = "forward", py::arg("stop_at_eos") = true, py::arg("on_token") = py::none(),
          "Generates token ids with an LLM program and its KV cache (etp/generate.h): greedy when temperature is "
          "0; stops at an EOS id unless stop_at_eos is False; on_token(id) sees each token as it comes. Returns "
          "the document `etp generate --json` prints.")
      .def(
          "load_method",
          [](const PyBundle& b, const std::string& model, const std::string& method) {
            return std::make_shared<PyMethod>(unwrap(b.bundle().load_method(model, method)));
          },
          py::arg("model"), py::arg("method") = "", "A new, independent Method (its own state).")
      .def(
          "run",
          [](PyBundle& b, const std::string& model, const py::sequence& inputs, const std::string& method) {
            return b.cached(model, method)->run(inputs);
          },
          py::arg("model"), py::arg("inputs"), py::arg("method") = "",
          "Runs a method (loaded once per bundle, so state carries over) and returns its outputs as arrays; "
          "ints and bools come back as 0-d arrays.")
      .def(
          "reset", [](PyBundle& b, const std::string& model) { b.forget(model); }, py::arg("model") = "",
          "Drops the methods run() loaded (of one model, or all), so the next run starts from fresh state.")
      .def("__repr__", [](const PyBundle& b) {
        return "<etp.Bundle " + (b.bundle().path().empty() ? std::string("(from a program)") : b.bundle().path()) + ">";
      });
}
