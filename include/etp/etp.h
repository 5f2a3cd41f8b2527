// The etp library: open a bundle (a manifest, or parts given in code), list its models and
// their methods, load a method, feed it tensors from memory, run it, read its outputs and its
// mutable state. Every call that can fail returns a Status or a Result<T> (etp/status.h); none
// throws, except std::bad_alloc where the standard library's containers would.
//
//   auto bundle = etp::Bundle::open("manifests/lora_forward.yaml");
//   if (!bundle.ok()) { std::cerr << bundle.status().to_string() << "\n"; return 1; }
//   auto method = bundle->load_method("base");              // the model's default method
//   auto outputs = method->run({tokens.ref(), pos.ref()});  // copies in, runs, copies out
//
// Thread-safety, one rule: a Method is used by one thread at a time; everything else (a Bundle,
// its metadata, loading methods) may be shared by any number of threads. Two Methods, even of
// one model, may execute at the same time; each has its own planned memory and state, while
// plugins share packed weights safely.
//
// Lifetimes: a Method keeps what it needs (program mapping, data files, plugins) alive, so it
// may outlive its Bundle. Plugins are unloaded when the last object using them is gone.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "etp/status.h"
#include "etp/tensor.h"

namespace etp {

namespace api {
struct Access;  // etp's own layers (host/api) build handles from the host's objects
}

// The library version, e.g. "0.1.0".
const char* version();

// What plugins log (info, warnings) is printed to stderr from this level up; by default
// nothing is, since errors reach the caller inside Status messages. Process-wide.
enum class LogLevel : int32_t { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kNone = 4 };
void set_log_level(LogLevel level);

// ---------------------------------------------------------------------------------------------
// Describing a bundle in code (the same things a manifest says; README "Manifest reference").

struct PluginSpec {
  std::string name;     // what data entries' weight_cache refer to; "" derives it from the library
                        // ("portable", ".../libetp_portable.so" and "libetp_portable.so.1" give "portable")
  std::string library;  // a path (containing '/'), a file name ("libetp_portable.so") or a short
                        // name ("portable" means libetp_portable.so), searched as in BundleOptions
  std::vector<std::pair<std::string, std::string>> options;  // e.g. {"threads", "2"}
};

struct DataSpec {
  std::string name;
  std::string file;          // a .ptd; relative paths resolve against BundleSpec::folder
  std::string sha256;        // optional, checked before use
  std::string weight_cache;  // optional: the plugin (by PluginSpec name) whose cache owns these weights
};

struct ModelSpec {
  std::string name;
  std::string program;             // a .pte; relative paths resolve against BundleSpec::folder
  std::vector<std::string> data;   // DataSpec names, in lookup order
  std::string method = "forward";  // the default method
  std::string tokenizer;           // its tokenizer model (SentencePiece .model), if any
  // The most instructions one execute may run (a looping program fails instead of spinning);
  // 0: the runtime's default, 10,000,000 (the manifest's `max_instructions:`).
  uint64_t max_instructions = 0;
};

// The plugins a program runs with when no manifest names them, in priority order: the portable
// kernels, the XNNPACK backend, the quantized kernels and the LLM operators.
std::vector<std::string> default_plugins();

struct BundleSpec {
  std::vector<PluginSpec> plugins;  // in priority order: earlier plugins win operator ties
  std::vector<DataSpec> data;
  std::vector<ModelSpec> models;
  std::string folder = ".";
  // The size of the host's thread pool, which every plugin of the bundle shares through the
  // ABI's parallel_for (the manifest's `threads:`), the calling thread included; 0: one per core.
  uint32_t threads = 0;
  // Bytes all loaded methods may plan (the manifest's `memory_budget:`); 0: the default.
  uint64_t memory_budget = 0;

  // One program and its data files as model `model`, served by `plugins` (short names or
  // libraries; by default default_plugins()).
  static BundleSpec for_program(const std::string& program, const std::vector<std::string>& data_files = {},
                                const std::vector<std::string>& plugins = default_plugins(),
                                const std::string& model = "model");
};

struct BundleOptions {
  // Folders searched for plugin libraries named without a '/', before the ETP_PLUGIN_PATH
  // folders (':'-separated, when use_environment) and the installed plugin folders.
  std::vector<std::string> plugin_paths;
  bool use_environment = true;
  // Manifest data entries to read from another file, by entry name: {"adapter", "trained.ptd"}
  // runs the bundle's programs with a trained adapter (same keys) in place of the manifest's.
  // Relative paths are from the current folder; the manifest's sha256 of a replaced entry is not
  // checked. An unknown entry name or a missing file is an error.
  std::vector<std::pair<std::string, std::string>> data_files;
  // When not 0, every method's instruction budget, over the models' own (CLI --max-instructions).
  uint64_t max_instructions = 0;
  // Read programs and data files into memory instead of mapping them (CLI --read-files): for
  // files that may change on disk while loaded. Costs their size in memory and a full read at
  // open. Mapped files must stay unchanged: see install_mapped_file_fault_handler.
  bool read_files = false;
  // Bytes the bundle's loaded methods may plan in all (planned buffers, unplanned inputs,
  // backend workspaces), checked before each load allocates; over the manifest's memory_budget. 0: the manifest's,
  // else three quarters of physical memory (CLI --memory-budget).
  uint64_t memory_budget = 0;
};

// Turns a SIGBUS from a mapped program or data file that shrank on disk (which would kill the
// process without a word) into "etp: <file> changed on disk while mapped ..." on stderr and
// exit status 1. Other SIGBUS faults go to the handler installed before, or the default action.
// The etp command installs it; a program embedding etp may call it once, early.
void install_mapped_file_fault_handler();

// ---------------------------------------------------------------------------------------------
// Metadata, readable without loading a method.

struct MethodInfo {
  std::string name;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<std::string> operators;  // "aten::add.out", ...
  std::vector<std::string> backends;   // backend ids of its delegates, e.g. "XnnpackBackend"
};

// A model's training data (the manifest's `train:` section; `etp train`).
struct TrainData {
  std::vector<std::string> inputs;  // .npy paths, one per input of the training method
  std::vector<std::string> eval;    // held-out .npy paths like `inputs` (etp train --eval), or empty
  int64_t batch_size = 0;           // 0: the program's leading input dimension
  bool shuffle = false;
  uint64_t seed = 0;
};

struct ModelInfo {
  std::string name;
  std::string program;                  // path of the .pte
  std::vector<std::string> data_files;  // paths of its .ptd files, in lookup order
  std::string default_method;
  std::string tokenizer;            // path of its tokenizer model, "" when none
  std::vector<MethodInfo> methods;  // in program order
  std::optional<TrainData> train;   // its `train:` section, if any

  const MethodInfo* find_method(const std::string& name) const;
};

struct PluginInfo {
  std::string name;     // the plugin's own name ("portable")
  std::string library;  // resolved path of the shared object
  std::string version;
  std::vector<std::string> backends;      // backend ids it serves
  size_t num_kernels = 0;                 // operators it lists (0 if it does not list them)
  uint32_t abi_major = 0, abi_minor = 0;  // the ABI its table was built for
  std::vector<std::string> kernels;       // the operators it lists, in its order (find_plugins only)
};

// A plugin library found on the search path (find_plugins): its description, or why it could
// not be loaded.
struct FoundPlugin {
  std::string library;
  std::string error;  // empty when it loaded; then `info` describes it
  PluginInfo info;
};

// Every plugin library named libetp_*.so in the folders BundleOptions searches (plugin_paths,
// ETP_PLUGIN_PATH, the installed plugin folders), in search order; a name found twice is listed
// once, where it is found first (as a manifest would resolve it). Each is loaded to describe it.
std::vector<FoundPlugin> find_plugins(const BundleOptions& options = {});

// `etp plugin check`: checks a plugin library against the plugin ABI's contract, each check in
// its own child process (a crash or hang is a result, never fatal): the exported symbols
// (exactly etp_plugin_query), the table it gives this host, hosts of an older and a newer minor
// and another major, a NULL host, init without options and with an unknown one, that every
// kernel it lists resolves and an unknown operator is ETP_ERR_NOT_FOUND, the results of its
// elementwise kernels against the portable plugin's, its backends' tables, and its delegates'
// life cycle in the programs PluginCheckOptions names.
struct PluginCheck {
  std::string name;    // "symbols", "query", "abi_versions", "null_host", "init", ...
  std::string status;  // "pass", "fail", "crash", "hang", or "skip" (needs what an earlier check found broken)
  std::string detail;
};
struct PluginCheckOptions {
  int timeout_ms = 20000;  // a check without an answer by then is killed and reported as "hang"
  // Where kernel_results finds the reference, libetp_portable.so (as a manifest would).
  BundleOptions bundle;
  // Programs with delegates of the plugin's backends: each adds a backend_program check of the
  // life cycle on real payloads. Every method with such a delegate is loaded and dropped (destroy
  // without execute), loaded twice at once (repeated init), and run on zero inputs.
  std::vector<std::string> programs;
  std::vector<std::string> data_files;  // the programs' external data
};
std::vector<PluginCheck> check_plugin(const std::string& library, const PluginCheckOptions& options = {});

// Which plugin serves each operator and delegate of a program, given plugins in priority order.
struct CoverageEntry {
  std::string method;
  std::string kind;  // "operator" or "backend"
  std::string name;  // "aten::add.out", "XnnpackBackend"
  // The plugin serving it: "host" for the host's prim operators, "" for none. An operator whose
  // calls fall through to several plugins (ABI 1.2) names each with its share,
  // "fast (2 of 3 calls), portable (1 of 3)"; that needs the method to load (with its data
  // files), and without a load the first plugin providing the operator is named.
  std::string plugin;
  // Plugins later in the order that offer it too but serve none of its calls (for a backend id,
  // the first plugin listing it serves every delegate).
  std::vector<std::string> also_offered_by;
};
// kNotFound and friends when the program or a plugin cannot be opened.
Result<std::vector<CoverageEntry>> program_coverage(const std::string& program, const std::vector<std::string>& plugins,
                                                    const BundleOptions& options = {});

// A method's mutable state tensor (see Method::state).
struct StateInfo {
  std::string name;  // fully qualified name (e.g. "layers.0.attention.k_cache"), or "value <index>"
  TensorView tensor;
};

// The time one kernel or delegate instruction took in profiled executes (Method::set_profiling).
struct InstructionProfile {
  size_t instruction = 0;  // index in the method's instruction list
  bool delegate = false;
  std::string name;    // operator name ("aten::convolution.out") or backend id ("XnnpackBackend")
  std::string plugin;  // the plugin serving it ("host" for prim operators)
  uint64_t calls = 0;
  double total_ms = 0;
};

// ---------------------------------------------------------------------------------------------

// One loaded method: its own planned memory, delegates and state. Move-only.
class Method {
 public:
  Method(Method&&) noexcept;
  Method& operator=(Method&&) noexcept;
  ~Method();

  const std::string& model() const;
  const std::string& name() const;
  const MethodInfo& info() const;
  size_t num_inputs() const;
  size_t num_outputs() const;

  // Copies `tensor` into input `index`. The dtype must match (kDtype); the sizes must equal a
  // static input's, or fit a dynamic input's bound (kShape); nbytes must match the sizes.
  Status set_input(size_t index, const TensorRef& tensor);
  // Like set_input, without a copy where the program allows: the input is stored row-major, the
  // data is aligned to its element size, and nothing reads or writes its memory except through
  // the input itself (no writer, no delegate, which may read past an input's end, no move, no
  // value planned into its bytes). Elsewhere it copies. Borrowed memory must stay valid and
  // unchanged until this input is set again or the Method is destroyed.
  Status bind_input(size_t index, const TensorRef& tensor);
  // True when input `index` currently borrows the caller's memory.
  bool input_borrowed(size_t index) const;
  // Copies every input, in order (kInvalidArgument when the count differs).
  Status set_inputs(const std::vector<TensorRef>& tensors);

  // Runs the method once on the current inputs and state.
  Status execute();
  // The most instructions one execute may run; an execute that reaches it fails with
  // kInvalidState, naming the method and the last jump taken backwards. Set at load from the
  // bundle (BundleOptions, then the model's max_instructions, else 10,000,000); 0 counts as 1.
  void set_instruction_budget(uint64_t instructions);
  uint64_t instruction_budget() const;
  // Output `index` (< num_outputs()); views stay valid until the next execute or set_input.
  Value output(size_t index) const;
  // set_inputs, execute, and owned copies of every output (Int/Double/Bool as 0-d tensors).
  Result<std::vector<Tensor>> run(const std::vector<TensorRef>& inputs);

  // Tensors whose contents carry over from one execute to the next and that the program writes:
  // mutable buffers such as KV caches, tensors with an initial value, trainable weights. Views
  // are live: they show the state after the last execute.
  std::vector<StateInfo> state() const;
  // Restores every state tensor to its initial contents (zeros where the program has none).
  void reset_state();

  // (operator, plugin serving it; "host" for the host's own prim operators), in program order.
  std::vector<std::pair<std::string, std::string>> kernel_providers() const;
  // Bytes of planned memory (activations, state) this method allocated.
  uint64_t planned_bytes() const;

  // While on, execute times each kernel and delegate call (two clock reads per instruction);
  // off by default, and free when off.
  void set_profiling(bool on);
  // Every kernel and delegate instruction, in program order, with the calls and time
  // accumulated since profiling was turned on or last cleared.
  std::vector<InstructionProfile> profile() const;
  void clear_profile();

  struct Impl;
  Impl* impl() const { return impl_.get(); }  // for etp's own layers; not part of the stable API

 private:
  friend class Bundle;
  explicit Method(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A set of plugins, data files and models, opened once. Move-only; cheap to move.
class Bundle {
 public:
  // Opens the bundle a manifest describes: loads its plugins in order and maps its data files
  // (checking sha256 where given). Programs open when first used. Errors name the manifest
  // file, line and column.
  static Result<Bundle> open(const std::string& manifest_path, const BundleOptions& options = {});
  // Opens a bundle described in code.
  static Result<Bundle> open(const BundleSpec& spec, const BundleOptions& options = {});

  Bundle(Bundle&&) noexcept;
  Bundle& operator=(Bundle&&) noexcept;
  ~Bundle();

  // The manifest's path, or "" for a bundle opened from a BundleSpec.
  const std::string& path() const;
  // Model names, in manifest order.
  std::vector<std::string> models() const;
  // A model's program, data files and method signatures (opens its program on first use;
  // kNotFound lists the models when there is no such model).
  Result<ModelInfo> model(const std::string& name) const;
  // Loads `method` of `model` ("" = the model's default method). Each call gives a new,
  // independent Method.
  Result<Method> load_method(const std::string& model, const std::string& method = "") const;
  // The loaded plugins, in priority order.
  std::vector<PluginInfo> plugins() const;

  struct Impl;
  Impl* impl() const { return impl_.get(); }  // for etp's own layers; not part of the stable API

 private:
  friend struct api::Access;
  explicit Bundle(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Describes a .pte or .ptd file: the JSON document `etp inspect --json` prints for one file
// (its "files" entry). kMalformed and friends when the file does not verify.
Result<std::string> inspect_json(const std::string& path);

}  // namespace etp
