// Loading plugins: the real portable plugin negotiates; each broken test plugin is refused
// with a message naming the file and what was expected.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "plugins/plugin_library.h"
#include "plugins/registry.h"
#include "runtime/host_services.h"
#include "runtime/runtime_support.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::plugins {
namespace {

std::string broken(const std::string& variant) { return test::kTestPlugins + "/libetp_broken_" + variant + ".so"; }

void expect_refused(const std::string& variant, const std::string& expected) {
  auto plugin = PluginLibrary::load(broken(variant), *runtime::HostServices::get().api());
  ASSERT_FALSE(plugin.ok()) << variant << " loaded";
  EXPECT_NE(plugin.status().message().find(broken(variant)), std::string::npos) << plugin.status().message();
  EXPECT_NE(plugin.status().message().find(expected), std::string::npos) << plugin.status().message();
}

TEST(PluginLoaderTest, PortablePluginNegotiatesAndResolvesKernels) {
  auto plugin = PluginLibrary::load(ETP_PORTABLE_PLUGIN_PATH, *runtime::HostServices::get().api());
  ASSERT_TRUE(plugin.ok()) << plugin.status().message();
  EXPECT_STREQ((*plugin)->name(), "portable");
  Registry registry;
  ASSERT_OK(registry.add(*plugin));
  auto add = registry.kernel_candidates("aten::add.out");
  ASSERT_EQ(add.size(), 1u);
  EXPECT_EQ(add[0].provider, "portable");
  EXPECT_NE(add[0].kernel.fn, nullptr);
  // The host's prim operators are the method loader's business, not the plugin registry's.
  EXPECT_TRUE(registry.kernel_candidates("aten::sym_size.int").empty());
  EXPECT_TRUE(registry.kernel_candidates("aten::no_such_op.out").empty());
}

// README.md quotes this count; every listed name resolves (and a change of the plugin's
// operator set shows here first).
TEST(PluginLoaderTest, PortablePluginListsItsOperatorsAndEachResolves) {
  auto plugin = PluginLibrary::load(ETP_PORTABLE_PLUGIN_PATH, *runtime::HostServices::get().api());
  ASSERT_TRUE(plugin.ok()) << plugin.status().message();
  const etp_plugin& t = (*plugin)->table();
  ASSERT_NE(t.num_kernels, nullptr);
  ASSERT_NE(t.kernel_name, nullptr);
  const uint32_t count = t.num_kernels(t.self);
  EXPECT_EQ(count, 219u);
  for (uint32_t i = 0; i < count; ++i) {
    etp_kernel kernel{};
    EXPECT_EQ(t.resolve_kernel(t.self, t.kernel_name(t.self, i), &kernel), ETP_OK) << t.kernel_name(t.self, i);
  }
}

TEST(PluginLoaderTest, TheFirstPluginInOrderServesASharedOperator) {
  auto portable = PluginLibrary::load(ETP_PORTABLE_PLUGIN_PATH, *runtime::HostServices::get().api());
  auto shadow = PluginLibrary::load(test::kTestPlugins + "/libetp_shadow.so", *runtime::HostServices::get().api());
  ASSERT_TRUE(portable.ok() && shadow.ok());
  Registry shadow_first, portable_first;
  ASSERT_OK(shadow_first.add(*shadow));
  ASSERT_OK(shadow_first.add(*portable));
  ASSERT_OK(portable_first.add(*portable));
  ASSERT_OK(portable_first.add(*shadow));
  auto providers = [](const Registry& r, const char* op) {
    std::string out;
    for (const ResolvedKernel& k : r.kernel_candidates(op)) out += (out.empty() ? "" : ",") + k.provider;
    return out;
  };
  EXPECT_EQ(providers(shadow_first, "aten::add.out"), "shadow,portable");
  EXPECT_EQ(providers(portable_first, "aten::add.out"), "portable,shadow");
  EXPECT_EQ(providers(shadow_first, "aten::mul.out"), "portable");  // only portable has it
}

TEST(PluginLoaderTest, MissingFileNamesThePath) {
  auto plugin = PluginLibrary::load("/nonexistent/libetp_nothing.so", *runtime::HostServices::get().api());
  ASSERT_FALSE(plugin.ok());
  EXPECT_NE(plugin.status().message().find("/nonexistent/libetp_nothing.so"), std::string::npos);
}

TEST(PluginLoaderTest, WrongMajorIsRefused) { expect_refused("wrong_major", "built for ABI major 2"); }
TEST(PluginLoaderTest, ShortStructIsRefused) { expect_refused("short_struct", "plugin table is 12 bytes"); }
// Refused from the file's symbol table, before dlopen: the library's constructor never runs.
TEST(PluginLoaderTest, MissingSymbolIsRefusedBeforeAnyOfItsCodeRuns) {
  expect_refused("missing_symbol",
                 "does not export etp_plugin_query; is it an etp plugin? (checked before loading; "
                 "none of its code ran)");
  EXPECT_EQ(std::getenv("ETP_BROKEN_MISSING_SYMBOL_LOADED"), nullptr) << "the library's constructor ran";
}

// A plugin built for another machine is refused from its ELF header, before loading (dlopen
// would refuse it too, but only after mapping it).
TEST(PluginLoaderTest, APluginForAnotherMachineIsRefusedBeforeLoading) {
  const std::string copy = ::testing::TempDir() + "etp_other_machine_" + std::to_string(::getpid()) + ".so";
  std::vector<uint8_t> bytes = test::read_bytes(ETP_PORTABLE_PLUGIN_PATH);
  ASSERT_GT(bytes.size(), 20u);
  bytes[18] = 183, bytes[19] = 0;  // e_machine: EM_AARCH64
  std::ofstream(copy, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto plugin = PluginLibrary::load(copy, *runtime::HostServices::get().api());
  std::remove(copy.c_str());
  ASSERT_FALSE(plugin.ok());
  EXPECT_NE(plugin.status().message().find("built for another machine (ELF e_machine 183"), std::string::npos)
      << plugin.status().message();
}

// A file that is not a shared object for this machine is refused the same way.
TEST(PluginLoaderTest, AFileThatIsNotASharedObjectIsRefusedBeforeLoading) {
  auto plugin = PluginLibrary::load(test::fixture_path("add.pte"), *runtime::HostServices::get().api());
  ASSERT_FALSE(plugin.ok());
  EXPECT_NE(plugin.status().message().find("is not a loadable plugin: not a 64-bit little-endian ELF shared object "
                                           "(checked before loading; none of its code ran)"),
            std::string::npos)
      << plugin.status().message();
}
TEST(PluginLoaderTest, QueryReturningNullIsRefusedWithThePluginsReason) {
  expect_refused("query_null", "refused this host (ABI " + std::to_string(ETP_ABI_MAJOR) + "." +
                                   std::to_string(ETP_ABI_MINOR) + "): test plugin: needs ABI 7");
}
TEST(PluginLoaderTest, NullRequiredSlotIsRefused) {
  expect_refused("null_slot", "backend 'BrokenBackend' lacks a required init, execute or destroy slot");
}
TEST(PluginLoaderTest, NullNameIsRefused) { expect_refused("no_name", "required slot 'name' is NULL"); }
TEST(PluginLoaderTest, FailingInitIsReportedWithThePluginsMessage) {
  expect_refused("init_fails", "failed to initialise (status 103): test plugin: the device is not there");
}

TEST(PluginLoaderTest, AnOptionThePluginDoesNotKnowIsAnError) {
  auto plugin = PluginLibrary::load(ETP_PORTABLE_PLUGIN_PATH, *runtime::HostServices::get().api(), {{"threads", "2"}});
  ASSERT_FALSE(plugin.ok());
  EXPECT_NE(plugin.status().message().find("unknown option 'threads'"), std::string::npos) << plugin.status().message();
}

TEST(PluginLoaderTest, ProgramNeedingAnAbsentBackendNamesIt) {
  auto program = test::open_fixture(test::find_fixture("linear", "xnnpack"), test::portable_registry());
  ASSERT_TRUE(program.ok()) << program.status().message();
  auto method = (*program)->load_method("forward");
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.status().message().find("needs backend 'XnnpackBackend'"), std::string::npos)
      << method.status().message();
}

TEST(PluginLoaderTest, MissingOperatorsAreListedTogether) {
  auto registry = std::make_shared<Registry>();  // no plugins at all
  auto program = test::open_fixture(test::find_fixture("mlp", "portable"), registry);
  ASSERT_TRUE(program.ok());
  auto method = (*program)->load_method("forward");
  ASSERT_FALSE(method.ok());
  const std::string& m = method.status().message();
  EXPECT_NE(m.find("needs 5 operator(s)"), std::string::npos) << m;
  EXPECT_NE(m.find("aten::addmm.out"), std::string::npos) << m;
  EXPECT_NE(m.find("aten::relu.out"), std::string::npos) << m;
}

// Plugins keep their state in globals, so one loaded copy must not be initialised twice.
TEST(PluginLoaderTest, LoadsWithEqualOptionsShareOneInstance) {
  const etp_host_api& host = *runtime::HostServices::get().api();
  auto a = PluginLibrary::load(ETP_XNNPACK_PLUGIN_PATH, host, {{"threads", "1"}});
  auto b = PluginLibrary::load(ETP_XNNPACK_PLUGIN_PATH, host, {{"threads", "1"}});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

TEST(PluginLoaderTest, OtherOptionsWhileLoadedGiveAPrivateCopyThatOutlivesTheFirst) {
  const etp_host_api& host = *runtime::HostServices::get().api();
  auto one = PluginLibrary::load(ETP_XNNPACK_PLUGIN_PATH, host, {{"threads", "1"}});
  auto two = PluginLibrary::load(ETP_XNNPACK_PLUGIN_PATH, host, {{"threads", "2"}});
  ASSERT_TRUE(one.ok()) << one.status().message();
  ASSERT_TRUE(two.ok()) << two.status().message();
  EXPECT_NE(one->get(), two->get());
  EXPECT_NE(&(*one)->table(), &(*two)->table());  // a second copy of the library, with its own globals
  EXPECT_EQ((*two)->path(), ETP_XNNPACK_PLUGIN_PATH);
  one->reset();  // shuts the first instance down; the copy stays usable
  EXPECT_STREQ((*two)->name(), "xnnpack");
  EXPECT_EQ((*two)->table().num_backends, 1u);
}

// The names in `list` (one per line, # comments) that `plugin` does not serve as `ns::name`;
// *total counts the listed names.
std::string missing_from(const etp_plugin& t, const std::string& list_path, const std::string& ns, size_t* total) {
  std::ifstream list(list_path);
  EXPECT_TRUE(list) << "missing " << list_path;
  std::string missing;
  *total = 0;
  for (std::string name; std::getline(list, name);) {
    if (name.empty() || name[0] == '#') continue;
    ++*total;
    etp_kernel kernel{};
    const std::string full = name.find("::") == std::string::npos ? ns + "::" + name : name;  // aten's unprefixed
    if (t.resolve_kernel(t.self, full.c_str(), &kernel) != ETP_OK) missing += " " + name;
  }
  return missing;
}

// Coverage of ExecuTorch's portable operator list (tests/plugins/portable/executorch_portable_ops.txt);
// README.md and plugins/portable/README.md quote the count, and the failure message lists what
// is missing, so adding an operator means updating the count here and there.
TEST(PluginLoaderTest, PortablePluginCoverageOfExecuTorchsPortableOperators) {
  auto plugin = PluginLibrary::load(ETP_PORTABLE_PLUGIN_PATH, *runtime::HostServices::get().api());
  ASSERT_TRUE(plugin.ok()) << plugin.status().message();
  size_t total = 0;
  const std::string missing =
      missing_from((*plugin)->table(),
                   std::string(ETP_FIXTURES_DIR) + "/../plugins/portable/executorch_portable_ops.txt", "aten", &total);
  EXPECT_EQ(total, 209u);
  EXPECT_EQ(missing, "");
}

// Every operator of ExecuTorch's quantized.yaml (tests/plugins/quantized/executorch_quantized_ops.txt).
TEST(PluginLoaderTest, QuantizedPluginServesEveryQuantizedYamlOperator) {
  auto plugin = PluginLibrary::load(ETP_QUANTIZED_PLUGIN_PATH, *runtime::HostServices::get().api());
  ASSERT_TRUE(plugin.ok()) << plugin.status().message();
  size_t total = 0;
  const std::string missing = missing_from(
      (*plugin)->table(), std::string(ETP_FIXTURES_DIR) + "/../plugins/quantized/executorch_quantized_ops.txt",
      "quantized_decomposed", &total);
  EXPECT_EQ(total, 19u);
  EXPECT_EQ(missing, "");
  EXPECT_EQ((*plugin)->table().num_kernels((*plugin)->table().self), 19u);
}

// The operators named in the first column of a plugin README's tables, in the README's shorthand:
// `ns::` prefixes are dropped, `.overload` continues the previous name, and a bare name means
// `name.out`.
std::set<std::string> readme_operators(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing " << path;
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const std::string first = line.substr(1, line.find('|', 1) - 1);
    std::string base;
    for (size_t open = first.find('`'); open != std::string::npos; open = first.find('`', open)) {
      const size_t close = first.find('`', open + 1);
      if (close == std::string::npos) break;
      std::string name = first.substr(open + 1, close - open - 1);
      open = close + 1;
      if (const size_t ns = name.find("::"); ns != std::string::npos) name = name.substr(ns + 2);
      if (name[0] == '.') name = base + name;
      base = name.substr(0, name.find('.'));
      if (name.find('.') == std::string::npos && name.back() != '_') name += ".out";
      names.insert(name);
    }
  }
  return names;
}

// Each plugin README's operator tables name exactly the operators the plugin serves, so the
// documentation cannot drift from the code.
TEST(PluginLoaderTest, PluginReadmeTablesListExactlyTheServedOperators) {
  const std::pair<const char*, const char*> plugins[] = {
      {ETP_PORTABLE_PLUGIN_PATH, "portable"}, {ETP_QUANTIZED_PLUGIN_PATH, "quantized"}, {ETP_LLM_PLUGIN_PATH, "llm"}};
  for (const auto& [path, name] : plugins) {
    auto plugin = PluginLibrary::load(path, *runtime::HostServices::get().api());
    ASSERT_TRUE(plugin.ok()) << plugin.status().message();
    const etp_plugin& t = (*plugin)->table();
    std::set<std::string> served;
    for (uint32_t i = 0; i < t.num_kernels(t.self); ++i) {
      const std::string full = t.kernel_name(t.self, i);
      served.insert(full.substr(full.find("::") + 2));
    }
    const std::set<std::string> documented =
        readme_operators(std::string(ETP_FIXTURES_DIR) + "/../../plugins/" + name + "/README.md");
    std::string undocumented, unknown;
    for (const auto& op : served) {
      if (!documented.count(op)) undocumented += " " + op;
    }
    for (const auto& op : documented) {
      if (!served.count(op)) unknown += " " + op;
    }
    EXPECT_EQ(undocumented, "") << name << ": served but not in plugins/" << name << "/README.md";
    EXPECT_EQ(unknown, "") << name << ": in the README but not served";
  }
}

// A dropped private copy stays mapped when the plugin pins itself; the next copy must still be
// a new object (the loader matches loaded objects by name and inode), never the old one.
TEST(PluginLoaderTest, EachPrivateCopyIsANewObject) {
  const etp_host_api& host = *runtime::HostServices::get().api();
  auto first = PluginLibrary::load(ETP_XNNPACK_PLUGIN_PATH, host, {{"threads", "1"}});
  ASSERT_TRUE(first.ok());
  std::vector<const etp_plugin*> tables = {&(*first)->table()};
  for (const char* threads : {"2", "3", "2"}) {
    auto copy = PluginLibrary::load(ETP_XNNPACK_PLUGIN_PATH, host, {{"threads", threads}});
    ASSERT_TRUE(copy.ok()) << copy.status().message();
    for (const etp_plugin* t : tables) EXPECT_NE(&(*copy)->table(), t) << threads;
    tables.push_back(&(*copy)->table());
  }  // each copy is dropped before the next
}

// Threads loading and dropping one library at once: shared while alive, never initialised
// while an old instance shuts down.
TEST(PluginLoaderTest, ConcurrentLoadsAndUnloadsAreSafe) {
  const etp_host_api& host = *runtime::HostServices::get().api();
  std::vector<std::string> failures(2);
  auto worker = [&](size_t id) {
    for (int i = 0; i < 50; ++i) {
      auto plugin = PluginLibrary::load(ETP_PORTABLE_PLUGIN_PATH, host);
      if (!plugin.ok()) return void(failures[id] = plugin.status().message());
      etp_kernel kernel{};
      if ((*plugin)->table().resolve_kernel((*plugin)->table().self, "aten::add.out", &kernel) != ETP_OK) {
        return void(failures[id] = "aten::add.out not found");
      }
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
}

}  // namespace
}  // namespace etp::plugins
