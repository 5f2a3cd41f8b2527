// Writes the fuzzers' seed corpora from the committed fixtures (never copied into the tree):
//   etp_fuzz_seeds SOURCE_DIR OUT_DIR
// fills OUT_DIR/<target>/ for every target: pte, method (the small programs), ptd, npy,
// manifest (manifests/*.yaml) and xnnpack (the XNNPACK payloads inside the fixture programs).
// Files larger than a target's limit are left out so that every input stays quick to run.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "format/program_file.h"

namespace fs = std::filesystem;

namespace {

// Copies the files of `dir` ending in `extension` and at most `max_bytes` long to `out`.
size_t copy_seeds(const fs::path& dir, const std::string& extension, uintmax_t max_bytes, const fs::path& out) {
  fs::create_directories(out);
  size_t copied = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != extension || entry.file_size() > max_bytes) continue;
    fs::copy_file(entry.path(), out / entry.path().filename(), fs::copy_options::overwrite_existing);
    ++copied;
  }
  return copied;
}

// Writes every XnnpackBackend payload of the fixture programs of at most `max_bytes`.
size_t write_xnnpack_payloads(const fs::path& dir, size_t max_bytes, const fs::path& out) {
  fs::create_directories(out);
  size_t written = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".pte") continue;
    auto program = etp::format::ProgramFile::open(entry.path().string());
    if (!program.ok()) continue;
    for (size_t p = 0; p < program->num_plans(); ++p) {
      const auto* delegates = program->plan(p).delegates();
      for (flatbuffers::uoffset_t d = 0; delegates != nullptr && d < delegates->size(); ++d) {
        const auto* delegate = delegates->Get(d);
        if (delegate->id() == nullptr || delegate->id()->str() != "XnnpackBackend") continue;
        const etp::ByteSpan blob = program->delegate_blob(*delegate);
        if (blob.size == 0 || blob.size > max_bytes) continue;
        const fs::path name = out / (entry.path().stem().string() + ".plan" + std::to_string(p) + ".delegate" +
                                     std::to_string(d) + ".xnn");
        std::ofstream(name, std::ios::binary).write(reinterpret_cast<const char*>(blob.data), blob.size);
        ++written;
      }
    }
  }
  return written;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: etp_fuzz_seeds SOURCE_DIR OUT_DIR\n");
    return 2;
  }
  const fs::path fixtures = fs::path(argv[1]) / "tests" / "fixtures";
  const fs::path out = argv[2];
  const size_t pte = copy_seeds(fixtures, ".pte", 64 << 10, out / "pte");
  const size_t method = copy_seeds(fixtures, ".pte", 16 << 10, out / "method");
  const size_t ptd = copy_seeds(fixtures, ".ptd", 64 << 10, out / "ptd");
  const size_t npy = copy_seeds(fixtures, ".npy", 4 << 10, out / "npy");
  const size_t manifest = copy_seeds(fs::path(argv[1]) / "manifests", ".yaml", 1 << 20, out / "manifest");
  const size_t xnnpack = write_xnnpack_payloads(fixtures, 64 << 10, out / "xnnpack");
  std::printf("seeds in %s: pte %zu, method %zu, ptd %zu, npy %zu, manifest %zu, xnnpack %zu\n", out.c_str(), pte,
              method, ptd, npy, manifest, xnnpack);
  return 0;
}
