// Manifests: every mistake is an error naming the file, line and column; a good bundle maps
// a shared data file once and runs.
#include <gtest/gtest.h>

#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "bundle/bundle.h"
#include "bundle/manifest.h"
#include "core/mapped_file.h"
#include "support/fixtures.h"

namespace etp::bundle {
namespace {

std::string expand(std::string text) {
  for (size_t at; (at = text.find("$F")) != std::string::npos;) text.replace(at, 2, ETP_FIXTURES_DIR);
  return text;
}

// "line:column" (1-based) of the `occurrence`-th appearance of `needle` in the expanded text.
std::string position_of(const std::string& text, const std::string& needle, int occurrence = 1) {
  const std::string expanded = expand(text);
  size_t at = std::string::npos;
  for (int i = 0; i < occurrence; ++i) at = expanded.find(expand(needle), at == std::string::npos ? 0 : at + 1);
  if (at == std::string::npos) return "needle not found";
  int line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (expanded[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// Writes `text` as a manifest in a fresh temp folder; `$F` stands for the fixtures folder.
std::string write_manifest(std::string text) {
  text = expand(text);
  char folder[] = "/tmp/etp_manifest_XXXXXX";
  const std::string dir = ::mkdtemp(folder);
  const std::string path = dir + "/bundle.yaml";
  std::ofstream(path) << text;
  return path;
}

const char* kPlugins = "etp: 1\nplugins:\n  portable: { library: " ETP_PORTABLE_PLUGIN_PATH " }\n";

// Expects the manifest to fail at the first character of `needle` (its `occurrence`-th
// appearance) with a message containing `expected`.
void expect_error(const std::string& text, const std::string& needle, const std::string& expected, int occurrence = 1) {
  const std::string position = position_of(text, needle, occurrence);
  const std::string path = write_manifest(text);
  auto manifest = parse_manifest(path);
  std::string message;
  if (manifest.ok()) {
    auto bundle = Bundle::open(*manifest);
    if (bundle.ok()) {
      for (const ModelSpec& m : (*bundle)->manifest().models) {
        auto program = (*bundle)->program(m.name);
        if (!program.ok()) message = program.status().message();
      }
    } else {
      message = bundle.status().message();
    }
  } else {
    message = manifest.status().message();
  }
  ASSERT_FALSE(message.empty()) << "the manifest was accepted:\n" << text;
  EXPECT_NE(message.find(path + ":" + position + ":"), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << message;
}

TEST(ManifestTest, UnknownKeyIsAnError) {
  expect_error(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte, progam: x }\n", "progam",
               "unknown key 'progam' in model 'add'");
}

TEST(ManifestTest, DuplicateKeyIsAnError) {
  expect_error(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte }\n  add: { program: $F/add.pte }\n",
               "add:", "duplicate model name 'add'", 2);
}

TEST(ManifestTest, WrongTypeIsAnError) {
  expect_error(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte, rtol: loose }\n", "loose",
               "rtol must be a number");
}

TEST(ManifestTest, MissingFileIsAnError) {
  expect_error(std::string(kPlugins) + "models:\n  add: { program: $F/nope.pte }\n", "$F/nope.pte", "program");
}

// A tolerance is a finite number, zero or more: a negative or NaN one would make every
// comparison pass or fail silently.
TEST(ManifestTest, NegativeOrNonFiniteToleranceIsAnError) {
  for (const char* value : {"-1", ".nan", ".inf", "-0.5"}) {
    for (const char* key : {"rtol", "atol"}) {
      expect_error(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte, " + key + ": " + value + " }\n",
                   value, std::string(key) + " must be a finite number >= 0");
    }
  }
}

TEST(ManifestTest, MaxInstructionsMustBeAPositiveInteger) {
  for (const char* value : {"0", "-5", "many", "1.5"}) {
    expect_error(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte, max_instructions: " + value + " }\n",
                 std::string(value) + " }", "max_instructions must be a positive integer");
  }
  auto manifest = parse_manifest(
      write_manifest(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte, max_instructions: 123 }\n"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->models[0].max_instructions, 123u);
}

TEST(ManifestTest, MemoryBudgetIsAByteCount) {
  const std::pair<const char*, uint64_t> good[] = {
      {"1073741824", 1073741824u}, {"512MiB", 512u << 20}, {"2 GiB", 2ull << 30}, {"64K", 64u << 10}, {"3B", 3}};
  for (const auto& [text, bytes] : good) {
    uint64_t parsed = 0;
    EXPECT_TRUE(parse_byte_size(text, &parsed)) << text;
    EXPECT_EQ(parsed, bytes) << text;
  }
  for (const char* text : {"0", "-1", "1.5G", "GiB", "12X", "99999999999T", "99999999999999999999", ""}) {
    uint64_t parsed = 0;
    EXPECT_FALSE(parse_byte_size(text, &parsed)) << text;
  }
  expect_error(std::string(kPlugins) + "memory_budget: lots\nmodels:\n  add: { program: $F/add.pte }\n", "lots",
               "memory_budget must be a positive byte count");
  auto manifest = parse_manifest(
      write_manifest(std::string(kPlugins) + "memory_budget: 256MiB\nmodels:\n  add: { program: $F/add.pte }\n"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->memory_budget, 256u << 20);
}

TEST(ManifestTest, EmptyModelsIsAnError) {
  expect_error(std::string(kPlugins) + "models: {}\n", "{}", "'models' is empty");
}

// A directory, a device or a FIFO named as a file says what it is (it used to say "does not
// exist"), and a FIFO is never opened for reading (which would wait for a writer).
TEST(ManifestTest, SpecialFilesAsProgramOrDataSayWhatTheyAre) {
  char folder[] = "/tmp/etp_special_XXXXXX";
  const std::string dir = ::mkdtemp(folder);
  const std::string fifo = dir + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::pair<std::string, std::string> cases[] = {
      {dir, "is a directory"},
      {"/dev/zero", "is not a regular file (a device, FIFO or socket)"},
      {fifo, "is not a regular file (a device, FIFO or socket)"},
  };
  for (const auto& [path, expected] : cases) {
    expect_error(std::string(kPlugins) + "models:\n  add: { program: " + path + " }\n", path,
                 "program '" + path + "' " + expected);
    expect_error(std::string(kPlugins) + "data:\n  d: { file: " + path +
                     " }\nmodels:\n  add: { program: $F/add.pte, data: [d] }\n",
                 path, "data file '" + path + "' " + expected);
    auto mapped = MappedFile::open(path);
    ASSERT_FALSE(mapped.ok()) << path;
    EXPECT_NE(mapped.status().message().find(expected), std::string::npos) << mapped.status().message();
  }
  std::filesystem::remove_all(dir);
}

TEST(ManifestTest, MissingTokenizerIsAnError) {
  expect_error(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte, tokenizer: $F/nope.model }\n",
               "$F/nope.model", "tokenizer");
}

TEST(ManifestTest, TokenizerResolvesAgainstTheManifestFolder) {
  auto manifest = parse_manifest(
      write_manifest(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte, tokenizer: $F/tiny_sp.model }\n"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->models[0].tokenizer, etp::test::fixture_path("tiny_sp.model"));
}

// `threads:` sizes the host's thread pool every plugin of the bundle shares (ABI 1.2): the
// bundle's plugins get a host table whose pool has that many threads.
TEST(ManifestTest, ThreadsSizeTheBundlesPool) {
  auto manifest = parse_manifest(write_manifest("etp: 1\nthreads: 3\n" + std::string(kPlugins).substr(7) +
                                                "models:\n  add: { program: $F/add.pte }\n"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->threads, 3u);
  auto bundle = Bundle::open(*manifest);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  const etp_host_api* host = (*bundle)->registry().host();
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->thread_count(host->self), 3u);
  for (const char* bad : {"0", "257", "two", "[2]"}) {
    expect_error("etp: 1\nthreads: " + std::string(bad) + "\n" + std::string(kPlugins).substr(7) +
                     "models:\n  add: { program: $F/add.pte }\n",
                 bad, "threads must be an integer from 1 to 256");
  }
}

TEST(ManifestTest, TrainSectionIsReadAndCheckedWithItsPosition) {
  auto manifest = parse_manifest(
      write_manifest(std::string(kPlugins) +
                     "models:\n  xor:\n    program: $F/xor_train.pte\n    train: { inputs: "
                     "[$F/xor_train.run2.in0.npy, $F/xor_train.run2.in1.npy], batch_size: 2, shuffle: true, "
                     "seed: 3 }\n"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().to_string();
  ASSERT_TRUE(manifest->models[0].train.has_value());
  EXPECT_EQ(manifest->models[0].train->inputs.size(), 2u);
  EXPECT_EQ(manifest->models[0].train->batch_size, 2);
  EXPECT_TRUE(manifest->models[0].train->shuffle);
  EXPECT_EQ(manifest->models[0].train->seed, 3u);
  expect_error(std::string(kPlugins) +
                   "models:\n  xor:\n    program: $F/xor_train.pte\n    train: { inputs: [$F/xor_train.run2.in0.npy], "
                   "batch_size: 0 }\n",
               "0 }", "batch_size must be an integer of at least 1");
  expect_error(std::string(kPlugins) + "models:\n  xor:\n    program: $F/xor_train.pte\n    train: { batch_size: 4 }\n",
               "{ batch_size", "needs 'inputs'");
  expect_error(
      std::string(kPlugins) + "models:\n  xor:\n    program: $F/xor_train.pte\n    train: { inputs: [$F/nope.npy] }\n",
      "$F/nope.npy", "training input");
  expect_error(std::string(kPlugins) +
                   "models:\n  xor:\n    program: $F/xor_train.pte\n    train: { inputs: [$F/xor_train.run2.in0.npy], "
                   "shufle: true }\n",
               "shufle", "shufle");
  // Held-out data: one array per input, like `inputs`.
  manifest = parse_manifest(write_manifest(std::string(kPlugins) +
                                           "models:\n  xor:\n    program: $F/xor_train.pte\n    train: { inputs: "
                                           "[$F/xor_train.run2.in0.npy, $F/xor_train.run2.in1.npy], eval: "
                                           "[$F/xor_train.run2.in0.npy, $F/xor_train.run2.in1.npy] }\n"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().to_string();
  EXPECT_EQ(manifest->models[0].train->eval.size(), 2u);
  expect_error(std::string(kPlugins) +
                   "models:\n  xor:\n    program: $F/xor_train.pte\n    train: { inputs: "
                   "[$F/xor_train.run2.in0.npy, $F/xor_train.run2.in1.npy], eval: [$F/xor_train.run2.in0.npy] }\n",
               "[$F/xor_train.run2.in0.npy] }", "'eval' must list 2 .npy files like 'inputs'");
  expect_error(std::string(kPlugins) +
                   "models:\n  xor:\n    program: $F/xor_train.pte\n    train: { inputs: [$F/xor_train.run2.in0.npy], "
                   "eval: [$F/nope.npy] }\n",
               "$F/nope.npy", "evaluation input");
}

TEST(ManifestTest, ADataEntryCanReadAnotherFile) {
  auto manifest = parse_manifest(write_manifest(
      std::string(kPlugins) + "data:\n  w: { file: $F/linear_portable.ptd, sha256: " + std::string(64, 'a') +
      " }\nmodels:\n  lin: { program: $F/linear_portable.pte, data: [w] }\n"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().to_string();
  const std::string other = etp::test::fixture_path("lora_train_adapter.ptd");
  ASSERT_TRUE(replace_data_file(&*manifest, "w", other).ok());
  EXPECT_EQ(manifest->data[0].path, other);
  EXPECT_TRUE(manifest->data[0].sha256.empty()) << "the manifest's sha256 describes the manifest's file";
  Status s = replace_data_file(&*manifest, "x", other);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("no data entry 'x' to replace (data: w)"), std::string::npos) << s.message();
  s = replace_data_file(&*manifest, "w", "/nonexistent.ptd");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("data 'w': replacement file /nonexistent.ptd does not exist"), std::string::npos)
      << s.message();
}

TEST(ManifestTest, UnknownDataNameIsAnError) {
  expect_error(std::string(kPlugins) + "models:\n  add: { program: $F/add.pte, data: [weights] }\n", "weights",
               "uses data 'weights', which the manifest does not define");
}

TEST(ManifestTest, UnknownCacheOwnerIsAnError) {
  expect_error(std::string(kPlugins) +
                   "data:\n  w: { file: $F/linear_portable.ptd, weight_cache: xnnpack }\n"
                   "models:\n  linear: { program: $F/linear_portable.pte, data: [w] }\n",
               "xnnpack", "weight_cache 'xnnpack', which is not a plugin of this manifest");
}

TEST(ManifestTest, OneDataFileOwnedByTwoCachesIsAnError) {
  expect_error("etp: 1\nplugins:\n  portable: { library: " ETP_PORTABLE_PLUGIN_PATH
               " }\n"
               "  other: { library: " ETP_PORTABLE_PLUGIN_PATH
               " }\n"
               "data:\n  a: { file: $F/linear_portable.ptd, weight_cache: portable }\n"
               "  b: { file: $F/linear_portable.ptd, weight_cache: other }\n"
               "models:\n  linear: { program: $F/linear_portable.pte, data: [a] }\n",
               "{ file", "is owned by two weight caches");
}

TEST(ManifestTest, DuplicateKeysAcrossAModelsDataFilesAreAnError) {
  expect_error(std::string(kPlugins) +
                   "data:\n  a: { file: $F/linear_portable.ptd }\n  b: { file: $F/linear_portable.ptd }\n"
                   "models:\n  linear: { program: $F/linear_portable.pte, data: [a, b] }\n",
               "{ program: $F/linear_portable.pte", "key 'weight' is in both data 'a' and data 'b'");
}

TEST(ManifestTest, Sha256MismatchIsAnError) {
  expect_error(std::string(kPlugins) + "data:\n  w: { file: $F/linear_portable.ptd, sha256: " + std::string(64, '0') +
                   " }\nmodels:\n  linear: { program: $F/linear_portable.pte, data: [w] }\n",
               "{ file", "the manifest expects 0000");
}

// The checksum is compared before the file is parsed: a file that is not the one named is
// never read as a data file (here a program stands where the data file should be).
TEST(ManifestTest, Sha256IsCheckedBeforeTheFileIsParsed) {
  expect_error(std::string(kPlugins) + "data:\n  w: { file: $F/add.pte, sha256: " + std::string(64, '0') +
                   " }\nmodels:\n  linear: { program: $F/linear_portable.pte, data: [w] }\n",
               "{ file", "has sha256 ");
}

TEST(ManifestTest, MalformedYamlNamesThePosition) {
  // Three lines of plugins, "models:", then an unclosed list: the parser stops at 6:1.
  const std::string path = write_manifest(std::string(kPlugins) + "models:\n  add: [1, 2\n");
  auto manifest = parse_manifest(path);
  ASSERT_FALSE(manifest.ok());
  EXPECT_NE(manifest.status().message().find(path + ":6:1: end of sequence flow not found"), std::string::npos)
      << manifest.status().message();
}

TEST(ManifestTest, UnknownPluginLibraryIsAnError) {
  expect_error(
      "etp: 1\nplugins:\n  gpu: { library: libetp_gpu_does_not_exist.so }\n"
      "models:\n  add: { program: $F/add.pte }\n",
      "{ library", "plugin library libetp_gpu_does_not_exist.so not found");
}

// The trust model: a bare library name is never looked up in the manifest's folder, so a
// library dropped next to a manifest cannot stand in for an installed plugin; naming it with a
// path (./lib.so) loads it, visibly.
TEST(ManifestTest, ABareLibraryNameIsNeverResolvedInTheManifestsFolder) {
  const std::string bare = write_manifest(
      "etp: 1\nplugins:\n  portable: { library: libetp_dropped.so }\n"
      "models:\n  add: { program: $F/add.pte }\n");
  const std::string folder = std::filesystem::path(bare).parent_path().string();
  std::filesystem::copy_file(ETP_PORTABLE_PLUGIN_PATH, folder + "/libetp_dropped.so");
  auto manifest = parse_manifest(bare);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  auto bundle = Bundle::open(*manifest, BundleOptions{{}, /*use_environment=*/false});
  ASSERT_FALSE(bundle.ok()) << "the library beside the manifest was loaded";
  EXPECT_NE(bundle.status().message().find("plugin library libetp_dropped.so not found"), std::string::npos)
      << bundle.status().message();
  EXPECT_EQ(bundle.status().message().find(folder + ","), std::string::npos) << "the manifest's folder was searched";

  std::ofstream(bare) << expand(
      "etp: 1\nplugins:\n  portable: { library: ./libetp_dropped.so }\n"
      "models:\n  add: { program: $F/add.pte }\n");
  manifest = parse_manifest(bare);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  bundle = Bundle::open(*manifest, BundleOptions{{}, /*use_environment=*/false});
  EXPECT_TRUE(bundle.ok()) << bundle.status().message();
}

TEST(BundleTest, SharedDataFileIsMappedOnceAndModelsRun) {
  const std::string path =
      write_manifest(std::string(kPlugins) +
                     "data:\n  foundation: { file: $F/tiny_llama_foundation_portable.ptd }\n"
                     "models:\n  base: { program: $F/tiny_llama_portable.pte, data: [foundation] }\n"
                     "  lora: { program: $F/tiny_llama_lora_portable.pte, data: [foundation] }\n");
  auto manifest = parse_manifest(path);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  auto bundle = Bundle::open(*manifest);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  auto base = (*bundle)->program("base");
  auto lora = (*bundle)->program("lora");
  ASSERT_TRUE(base.ok() && lora.ok());
  const runtime::DataSource* foundation = (*bundle)->data("foundation");
  ASSERT_NE(foundation, nullptr);
  // Both programs hold the one DataFile the bundle mapped: the bundle, base and lora.
  EXPECT_GE(foundation->file.use_count(), 3);
  EXPECT_TRUE((*(*base)->load_method("forward"))->execute().ok());
}

// A data file named twice under different paths (a symbolic link, a relative path given to
// replace a data entry, as --data NAME=FILE does) is still mapped once.
TEST(BundleTest, OneFileUnderTwoPathsIsMappedOnce) {
  namespace fs = std::filesystem;
  const std::string file = etp::test::fixture_path("linear_portable.ptd");
  const fs::path link = fs::path(::testing::TempDir()) / "etp_linked_weights.ptd";
  fs::remove(link);
  fs::create_symlink(file, link);
  const std::string path = write_manifest(
      std::string(kPlugins) + "data:\n  a: { file: $F/linear_portable.ptd }\n  b: { file: " + link.string() +
      " }\n  c: { file: $F/add.pte }\nmodels:\n  lin: { program: "
      "$F/linear_portable.pte, data: [a] }\n");
  auto manifest = parse_manifest(path);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  ASSERT_TRUE(replace_data_file(&*manifest, "c", fs::relative(file).string()).ok());
  ASSERT_NE(manifest->data[2].path, manifest->data[0].path) << "the test needs two spellings";
  auto bundle = Bundle::open(*manifest);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  const runtime::DataSource *a = (*bundle)->data("a"), *b = (*bundle)->data("b"), *c = (*bundle)->data("c");
  ASSERT_TRUE(a != nullptr && b != nullptr && c != nullptr);
  EXPECT_EQ(a->file.get(), b->file.get());
  EXPECT_EQ(a->file.get(), c->file.get());
  EXPECT_EQ(a->file_id, c->file_id);
}

}  // namespace
}  // namespace etp::bundle

namespace etp::test {
namespace {

// manifests/fixtures.yaml (what `etp run manifests/fixtures.yaml --check` and the side-by-side
// benchmark against ExecuTorch run) lists every fixture of index.json with its recorded runs.
TEST(FixturesManifestTest, ListsEveryFixtureWithItsRecordedRuns) {
  auto manifest = bundle::parse_manifest(ETP_FIXTURES_MANIFEST);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  std::map<std::string, const bundle::ModelSpec*> models;
  for (const bundle::ModelSpec& m : manifest->models) models[m.name] = &m;
  for (const auto& f : all_fixtures()) {
    const std::string name = f["name"];
    const auto it = models.find(name);
    if (it == models.end()) {
      ADD_FAILURE() << "manifests/fixtures.yaml has no model '" << name << "'";
      continue;
    }
    EXPECT_EQ(it->second->runs.size(), f["runs"].size()) << name;
  }
}

}  // namespace
}  // namespace etp::test
