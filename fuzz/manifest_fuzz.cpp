// Fuzz target: the YAML manifest parser. The input is written as <scratch>/manifests/fuzz.yaml
// beside a link `tests` to the source tree's tests/, so the relative paths of the seeds
// (../tests/fixtures/...) resolve and the parser gets past its file checks. Every failure must
// come back as a Status: an exception escaping parse_manifest is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "bundle/manifest.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    const std::string dir = etp::fuzz::scratch_dir();
    std::filesystem::create_directories(dir + "/manifests");
    std::filesystem::create_directory_symlink(std::filesystem::path(etp::fuzz::fixtures_dir()).parent_path(),
                                              dir + "/tests");
    return dir + "/manifests/fuzz.yaml";
  }();
  etp::fuzz::write_file(path, data, size);
  (void)etp::bundle::parse_manifest(path);
  return 0;
}
