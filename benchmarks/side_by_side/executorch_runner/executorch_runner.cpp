// Times one ExecuTorch program on the ExecuTorch runtime the `executorch` wheel ships, the way
// `etp bench` times etp: warm-up runs, then timed runs of `execute` alone (inputs are set before
// each run, untimed) until both a minimum count and a minimum total time are reached. Prints
// one JSON object: median, p10 and p90 in microseconds, the run count, and whether output 0
// matched the expected file. For benchmarks/side_by_side/executorch_speed.py; not a test.
//
//   executorch_runner PROGRAM.pte [--data FILE.ptd] [--threads N] [--min-time S] [--warmup N]
//                     [--expected OUT0.npy] [--load LIB.so]... INPUT.npy...
// --load opens a library that registers more kernels (the wheel's llama custom ops).
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // _unsafe_reset_threadpool: the wheel's way to size it

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/threadpool/threadpool.h>
#include <executorch/runtime/core/data_loader.h>
#include <executorch/runtime/core/named_data_map.h>
#include <executorch/runtime/executor/memory_manager.h>
#include <executorch/runtime/executor/method.h>
#include <executorch/runtime/executor/program.h>
#include <executorch/runtime/platform/runtime.h>

namespace rt = executorch::runtime;
using executorch::aten::ScalarType;
using executorch::aten::TensorImpl;

namespace {

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "executorch_runner: %s\n", why.c_str());
  std::exit(1);
}

// A read-only mapping of a whole file.
struct Mapped {
  const uint8_t* data = nullptr;
  size_t size = 0;
  explicit Mapped(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) die("cannot open " + path);
    size = static_cast<size_t>(st.st_size);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) die("cannot map " + path);
    data = static_cast<const uint8_t*>(p);
  }
};

// ExecuTorch's DataLoader over a mapped file (the wheel ships no loader headers).
class MappedLoader final : public rt::DataLoader {
 public:
  explicit MappedLoader(const std::string& path) : file_(path) {}
  rt::Result<rt::FreeableBuffer> load(size_t offset, size_t size, const SegmentInfo&) const override {
    if (offset > file_.size || size > file_.size - offset) return rt::Error::InvalidArgument;
    return rt::FreeableBuffer(file_.data + offset, size, nullptr);
  }
  rt::Result<size_t> size() const override { return file_.size; }

 private:
  Mapped file_;
};

// ExecuTorch's FlatTensorDataMap::load, found by its exported name: the wheel ships the symbol
// but not the header. It returns Result<FlatTensorDataMap> through a hidden pointer; on success
// the map (a NamedDataMap, vtable first) sits at the start of that storage. Never destroyed.
const rt::NamedDataMap* load_data_map(rt::DataLoader* loader) {
  using LoadFn = void (*)(void* result, rt::DataLoader* loader);
  auto load = reinterpret_cast<LoadFn>(
      dlsym(RTLD_DEFAULT, "_ZN10executorch9extension17FlatTensorDataMap4loadEPNS_7runtime10DataLoaderE"));
  if (load == nullptr) die("the wheel's runtime has no FlatTensorDataMap::load");
  auto* storage = static_cast<unsigned char*>(std::aligned_alloc(64, 4096));
  std::memset(storage, 0, 4096);
  load(storage, loader);
  uintptr_t head = 0;
  std::memcpy(&head, storage, sizeof head);
  if (head < 65536) die("FlatTensorDataMap::load failed (error " + std::to_string(head) + ")");
  return reinterpret_cast<const rt::NamedDataMap*>(storage);
}

// A C-order .npy file.
struct Npy {
  ScalarType type = ScalarType::Float;
  std::vector<int32_t> sizes;
  std::vector<uint8_t> dim_order;
  std::vector<int32_t> strides;
  std::vector<uint8_t> bytes;
  size_t element_size = 4;
};

Npy read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  if (all.size() < 10 || all.compare(0, 6, "\x93NUMPY") != 0) die(path + ": not a .npy file");
  const size_t header_len = all[6] == 1 ? (uint8_t(all[8]) | uint8_t(all[9]) << 8) : 0;
  if (header_len == 0) die(path + ": only .npy version 1 is read");
  const std::string header = all.substr(10, header_len);
  Npy n;
  const size_t d = header.find("'descr': '");
  if (d == std::string::npos || header.find("'fortran_order': False") == std::string::npos) die(path + ": bad header");
  const std::string descr = header.substr(d + 10, header.find('\'', d + 10) - (d + 10));
  struct Kind {
    const char* descr;
    ScalarType type;
    size_t size;
  };
  const Kind kinds[] = {{"<f4", ScalarType::Float, 4}, {"<f2", ScalarType::Half, 2}, {"<i8", ScalarType::Long, 8},
                        {"<i4", ScalarType::Int, 4},   {"|b1", ScalarType::Bool, 1}, {"|u1", ScalarType::Byte, 1},
                        {"|i1", ScalarType::Char, 1}};
  bool known = false;
  for (const Kind& k : kinds) {
    if (descr == k.descr) n.type = k.type, n.element_size = k.size, known = true;
  }
  if (!known) die(path + ": dtype " + descr + " is not read");
  const size_t s = header.find("'shape': (");
  const std::string shape = header.substr(s + 10, header.find(')', s) - (s + 10));
  size_t count = 1;
  for (size_t pos = 0; pos < shape.size();) {
    const size_t comma = shape.find(',', pos);
    const std::string item = shape.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.find_first_not_of(' ') != std::string::npos) {
      n.sizes.push_back(std::stoi(item));
      count *= static_cast<size_t>(n.sizes.back());
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  n.strides.resize(n.sizes.size());
  for (size_t i = n.sizes.size(); i-- > 0;) {
    n.strides[i] = i + 1 == n.sizes.size() ? 1 : n.strides[i + 1] * n.sizes[i + 1];
  }
  for (size_t i = 0; i < n.sizes.size(); ++i) n.dim_order.push_back(static_cast<uint8_t>(i));
  const size_t offset = 10 + header_len;
  if (all.size() < offset + count * n.element_size) die(path + ": truncated data");
  n.bytes.assign(all.begin() + offset, all.begin() + offset + count * n.element_size);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string program_path, data_path, expected_path;
  std::vector<std::string> input_paths;
  int threads = 1, warmup = 2;
  double min_time = 0.5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : (die(a + " needs a value"), std::string()); };
    if (a == "--data")
      data_path = value();
    else if (a == "--threads")
      threads = std::stoi(value());
    else if (a == "--min-time")
      min_time = std::stod(value());
    else if (a == "--warmup")
      warmup = std::stoi(value());
    else if (a == "--expected")
      expected_path = value();
    else if (a == "--load") {
      const std::string lib = value();
      if (dlopen(lib.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) die("cannot load " + lib + ": " + dlerror());
    } else if (program_path.empty())
      program_path = a;
    else
      input_paths.push_back(a);
  }
  if (program_path.empty()) die("usage: executorch_runner PROGRAM.pte [options] INPUT.npy...");

  rt::runtime_init();
  if (!executorch::extension::threadpool::get_threadpool()->_unsafe_reset_threadpool(threads)) {
    die("cannot size ExecuTorch's thread pool to " + std::to_string(threads));
  }
  MappedLoader loader(program_path);
  auto program = rt::Program::load(&loader, rt::Program::Verification::Minimal);
  if (!program.ok()) die("cannot load " + program_path);
  std::unique_ptr<MappedLoader> data_loader;
  const rt::NamedDataMap* data_map = nullptr;
  if (!data_path.empty()) {
    data_loader = std::make_unique<MappedLoader>(data_path);
    data_map = load_data_map(data_loader.get());
  }
  auto meta = program->method_meta("forward");
  if (!meta.ok()) die("no method forward");
  std::vector<std::unique_ptr<uint8_t[]>> planned;
  std::vector<rt::Span<uint8_t>> spans;
  for (size_t i = 0; i < meta->num_memory_planned_buffers(); ++i) {
    const size_t size = static_cast<size_t>(meta->memory_planned_buffer_size(i).get());
    planned.emplace_back(new uint8_t[size]);
    spans.emplace_back(planned.back().get(), size);
  }
  rt::HierarchicalAllocator planned_memory({spans.data(), spans.size()});
  // Untouched pages of these pools cost nothing.
  static std::vector<uint8_t> method_pool(256u << 20), temp_pool(64u << 20);
  rt::MemoryAllocator method_allocator(static_cast<uint32_t>(method_pool.size()), method_pool.data());
  rt::MemoryAllocator temp_allocator(static_cast<uint32_t>(temp_pool.size()), temp_pool.data());
  rt::MemoryManager memory(&method_allocator, &planned_memory, &temp_allocator);
  auto method = program->load_method("forward", &memory, nullptr, data_map);
  if (!method.ok()) die("cannot load method forward (error " + std::to_string(int(method.error())) + ")");

  std::vector<Npy> inputs;
  for (const std::string& p : input_paths) inputs.push_back(read_npy(p));
  // An input the program keeps in another dim order (channels-last) gets its data in that
  // order: the .npy holds the logical (contiguous) one.
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto tensor_meta = meta->input_tensor_meta(i);
    if (!tensor_meta.ok()) continue;
    const auto order = tensor_meta->dim_order();
    Npy& n = inputs[i];
    if (order.size() != n.sizes.size()) continue;
    bool is_default = true;
    for (size_t d = 0; d < order.size(); ++d) is_default = is_default && order[d] == d;
    if (is_default) continue;
    const size_t rank = order.size();
    std::vector<int32_t> logical_strides(rank), strides(rank);
    for (size_t d = rank; d-- > 0;) logical_strides[d] = d + 1 == rank ? 1 : logical_strides[d + 1] * n.sizes[d + 1];
    for (size_t k = rank, step = 1; k-- > 0;) {  // physical dim k is logical dim order[k]
      strides[order[k]] = static_cast<int32_t>(step);
      step *= static_cast<size_t>(n.sizes[order[k]]);
    }
    std::vector<uint8_t> physical(n.bytes.size());
    const size_t count = n.bytes.size() / n.element_size;
    std::vector<int32_t> index(rank, 0);
    for (size_t flat = 0; flat < count; ++flat) {
      size_t from = 0, to = 0;
      for (size_t d = 0; d < rank; ++d) from += index[d] * logical_strides[d], to += index[d] * strides[d];
      std::memcpy(&physical[to * n.element_size], &n.bytes[from * n.element_size], n.element_size);
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < n.sizes[d]) break;
        index[d] = 0;
      }
    }
    n.bytes = std::move(physical);
    n.strides = strides;
    n.dim_order.assign(order.begin(), order.end());
  }
  std::vector<std::unique_ptr<TensorImpl>> impls;
  for (Npy& n : inputs) {
    impls.push_back(std::make_unique<TensorImpl>(n.type, static_cast<ssize_t>(n.sizes.size()), n.sizes.data(),
                                                 n.bytes.data(), n.dim_order.data(), n.strides.data(),
                                                 executorch::aten::TensorShapeDynamism::STATIC));
  }
  auto set_inputs = [&] {
    for (size_t i = 0; i < impls.size(); ++i) {
      const rt::EValue value{executorch::aten::Tensor(impls[i].get())};
      if (method->set_input(value, i) != rt::Error::Ok) die("cannot set input " + std::to_string(i));
    }
  };
  auto run = [&] {
    if (method->execute() != rt::Error::Ok) die("execute failed");
  };
  for (int i = 0; i < warmup; ++i) set_inputs(), run();

  using Clock = std::chrono::steady_clock;
  std::vector<double> us;
  double total = 0;
  while (us.size() < 10 || total < min_time) {
    set_inputs();
    const auto start = Clock::now();
    run();
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    us.push_back(t * 1e6);
    total += t;
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<size_t>(q * static_cast<double>(us.size())))];
  };

  std::string match = "not checked";
  if (!expected_path.empty()) {
    const Npy want = read_npy(expected_path);
    const rt::EValue& out = method->get_output(0);
    bool default_order = out.isTensor();
    for (size_t i = 0; default_order && i < out.toTensor().dim_order().size(); ++i) {
      default_order = out.toTensor().dim_order()[i] == i;  // the .npy holds the logical (contiguous) order
    }
    if (!default_order) {
      match = "not checked (dim order)";
    } else if (want.type == ScalarType::Float && out.toTensor().scalar_type() == ScalarType::Float &&
               static_cast<size_t>(out.toTensor().numel()) * 4 == want.bytes.size()) {
      const float* got = out.toTensor().const_data_ptr<float>();
      const auto* exp = reinterpret_cast<const float*>(want.bytes.data());
      bool ok = true;
      for (size_t i = 0; i < want.bytes.size() / 4; ++i)
        ok &= std::fabs(got[i] - exp[i]) <= 1e-3f + 1e-3f * std::fabs(exp[i]);
      match = ok ? "match" : "differ";
    }
  }
  std::printf(
      "{\"median_us\": %.4f, \"p10_us\": %.4f, \"p90_us\": %.4f, \"runs\": %zu, \"threads\": %d, \"output\": \"%s\"}\n",
      at(0.5), at(0.1), at(0.9), us.size(), threads, match.c_str());
  return 0;
}
