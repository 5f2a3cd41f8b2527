// Fuzz target: an XNNPACK delegate payload, read by the host's XnnpackBlob reader and then
// compiled by the XNNPACK plugin's init (its own graph parser, shape inference and the
// XNNPACK/native compilers) through the plugin ABI, as a method load would. The plugin is the
// built .so, loaded by the host's loader; it is instrumented, so libFuzzer sees its coverage.
//
// Weights: a payload names its constants by key. They are looked up in every fixture .ptd and
// in one extra data file, written at start-up, that holds the named data of every fixture
// program, so a payload taken from any fixture finds its weights and init gets past them.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "format/data_file.h"
#include "format/data_file_writer.h"
#include "format/program_file.h"
#include "format/xnnpack_blob.h"
#include "fuzz_support.h"
#include "plugins/plugin_library.h"
#include "plugins/plugin_log.h"

namespace {

using namespace etp;

// The named data of every fixture program, as one data file (keys as stored, bytes as uint8).
runtime::DataSource program_named_data() {
  std::vector<std::shared_ptr<const format::ProgramFile>> programs;  // keep the bytes mapped while writing
  std::vector<format::TensorToWrite> tensors;
  std::set<std::string> keys;
  for (const auto& entry : std::filesystem::directory_iterator(fuzz::fixtures_dir())) {
    if (entry.path().extension() != ".pte") continue;
    auto program = format::ProgramFile::open(entry.path().string());
    if (!program.ok() || program->root().named_data() == nullptr) continue;
    programs.push_back(std::make_shared<const format::ProgramFile>(std::move(*program)));
    for (const auto* named : *programs.back()->root().named_data()) {
      if (named->key() == nullptr || !keys.insert(named->key()->str()).second) continue;
      const ByteSpan* bytes = programs.back()->find_named_data(named->key()->string_view());
      if (bytes == nullptr || bytes->size == 0 || bytes->size > INT32_MAX) continue;
      tensors.push_back(
          {named->key()->str(), /*scalar_type=*/0, {static_cast<int32_t>(bytes->size)}, {}, bytes->data, bytes->size});
    }
  }
  const std::string path = fuzz::scratch_dir() + "/program_named_data.ptd";
  if (Status written = format::write_data_file(path, std::move(tensors), /*alignment=*/64); !written.ok()) {
    std::fprintf(stderr, "fuzz harness: %s\n", written.message().c_str());
    std::abort();
  }
  auto file = format::DataFile::open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "fuzz harness: %s\n", file.status().message().c_str());
    std::abort();
  }
  return {std::make_shared<const format::DataFile>(std::move(*file)), /*file_id=*/1000, ""};
}

struct Backend {
  std::shared_ptr<const plugins::Registry> registry = fuzz::shipped_registry();
  const etp_backend* backend = nullptr;
  std::unique_ptr<runtime::NamedDataMap> named_data;

  Backend() {
    for (const auto& plugin : registry->plugins()) {
      for (uint32_t i = 0; i < plugin->table().num_backends; ++i) {
        if (std::string(plugin->table().backends[i]->id) == "XnnpackBackend") backend = plugin->table().backends[i];
      }
    }
    if (backend == nullptr) std::abort();
    std::vector<runtime::DataSource> files = fuzz::fixture_data_files();
    files.push_back(program_named_data());
    named_data = std::make_unique<runtime::NamedDataMap>(std::move(files), nullptr, "xnnpack");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Backend xnnpack;
  // An exact-size copy (aligned as a payload in a program is), so ASan sees reads past the end.
  const auto payload = MappedFile::copy_of("fuzz payload", data, size);
  (void)format::XnnpackBlob::parse({payload->data(), payload->size()}, "fuzz payload");

  etp_backend_init_args args{};
  args.header = ETP_ABI_HEADER(etp_backend_init_args);
  args.payload = payload->data();
  args.payload_size = payload->size();
  args.named_data = xnnpack.named_data->handle();
  args.program_name = "fuzz.pte";
  args.method_name = "forward";
  args.method_id = 1;
  void* handle = nullptr;
  if (xnnpack.backend->init(xnnpack.backend->self, &args, &handle) == ETP_OK) {
    xnnpack.backend->destroy(xnnpack.backend->self, handle);
  }
  (void)plugins::PluginLog::take_last_error();
  return 0;
}
