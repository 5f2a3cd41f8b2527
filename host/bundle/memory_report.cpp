#include "bundle/memory_report.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace etp::bundle {
namespace {

using nlohmann::json;

// Value in kB of a "Key:   123 kB" line of a /proc file, as bytes; 0 if absent.
uint64_t proc_kb(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      return std::stoull(line.substr(key.size() + 1)) * 1024;
    }
  }
  return 0;
}

json process_json(const ProcessMemory& p) {
  return {{"rss", p.rss}, {"anonymous", p.anonymous}, {"file_backed", p.file_backed}, {"peak_rss", p.peak_rss}};
}

// Bytes of weights a program stores itself: its constant segment (or inline constant_buffer)
// and its named data.
uint64_t program_weight_bytes(const format::ProgramFile& file) {
  uint64_t bytes = 0;
  std::set<uint32_t> segments;
  const auto& root = file.root();
  const auto* constants = root.constant_segment();
  if (constants && constants->offsets() && constants->offsets()->size() > 1) {
    segments.insert(constants->segment_index());
  } else if (const auto* legacy = root.constant_buffer()) {
    for (flatbuffers::uoffset_t i = 0; i < legacy->size(); ++i) {
      if (const auto* storage = legacy->Get(i)->storage()) bytes += storage->size();
    }
  }
  for (flatbuffers::uoffset_t i = 0; root.named_data() && i < root.named_data()->size(); ++i) {
    segments.insert(root.named_data()->Get(i)->segment_index());
  }
  for (uint32_t s : segments) {
    // An unused constant_segment may name a segment that does not exist (ExecuTorch never
    // loads one whose offsets list only the placeholder); named data is verified.
    if (s < file.num_segments()) bytes += file.segment(s).size;
  }
  return bytes;
}

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

ProcessMemory measure_process() {
  ProcessMemory p;
  p.rss = proc_kb("/proc/self/smaps_rollup", "Rss");
  p.anonymous = proc_kb("/proc/self/smaps_rollup", "Anonymous");
  p.file_backed = p.rss > p.anonymous ? p.rss - p.anonymous : 0;
  p.peak_rss = proc_kb("/proc/self/status", "VmHWM");
  return p;
}

uint64_t resident_bytes(const void* data, uint64_t size) {
  // The Rss of the mapping that starts at `data`, from /proc/self/smaps: what this process
  // holds in RAM for it. (mincore would report the page cache, which outlives the process's
  // use: pages the host released after packing still show there.)
  if (data == nullptr || size == 0) return 0;
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t start = reinterpret_cast<uintptr_t>(data);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    const size_t dash = line.find('-');
    if (dash != std::string::npos && dash < 17 && line.find(' ') > dash) {  // a mapping's header line
      inside = std::stoull(line.substr(0, dash), nullptr, 16) == start;
      continue;
    }
    if (inside && line.compare(0, 4, "Rss:") == 0) return std::stoull(line.substr(4)) * 1024;
  }
  return 0;
}

json memory_report(const Bundle& bundle, const std::vector<LoadedModel>& models) {
  // Packed weights per plugin entry, from the plugins' own reports.
  struct Packed {
    std::string plugin;
    plugins::CacheEntry entry;
  };
  std::vector<Packed> packed;
  for (const auto& plugin : bundle.registry().plugins()) {
    for (auto& e : plugin->cache_report(&runtime::Method::label_of)) packed.push_back({plugin->name(), std::move(e)});
  }
  json files = json::array();
  std::set<const format::DataFile*> seen;
  for (const DataSpec& spec : bundle.manifest().data) {
    const runtime::DataSource* source = bundle.data(spec.name);
    if (source == nullptr || !seen.insert(source->file.get()).second) continue;
    json users = json::array();
    for (const ModelSpec& m : bundle.manifest().models) {
      for (const std::string& d : m.data) {
        if (bundle.data(d) == source) users.push_back(m.name);
      }
    }
    uint64_t shared_bytes = 0, shared_entries = 0;
    for (const Packed& p : packed) {
      if (p.entry.shared && p.entry.file_id == source->file_id) {
        shared_bytes += p.entry.packed_bytes;
        ++shared_entries;
      }
    }
    const MappedFile& file = source->file->file();
    files.push_back({{"name", spec.name},
                     {"file", file.path()},
                     {"mapped_bytes", file.size()},
                     {"resident_bytes", resident_bytes(file.data(), file.size())},
                     {"weight_cache", source->cache_owner},
                     {"shared_packed_bytes", shared_bytes},
                     {"shared_packed_entries", shared_entries},
                     {"models", users}});
  }
  json model_list = json::array();
  for (const LoadedModel& m : models) {
    if (m.methods.empty()) continue;
    const runtime::Program& program = m.methods.front()->program();
    uint64_t planned = 0, private_packed = 0;
    for (const runtime::Method* method : m.methods) planned += method->planned_bytes();
    const std::string prefix = program.path() + ":";
    for (const Packed& p : packed) {
      if (p.entry.shared) continue;
      if (!p.entry.user_ids.empty()) {  // ABI 1.2 plugins name their users' methods by id
        for (const plugins::CacheUser& user : p.entry.user_ids) {
          for (const runtime::Method* method : m.methods) {
            if (method->id() == user.method_id) private_packed += p.entry.packed_bytes;
          }
        }
        continue;
      }
      for (const std::string& user : p.entry.users) {  // ABI 1.1: "<program>:<method>:<delegate>"
        if (user.compare(0, prefix.size(), prefix) == 0) private_packed += p.entry.packed_bytes;
      }
    }
    const MappedFile& file = program.file().file();
    model_list.push_back(
        {{"name", m.name},
         {"program", file.path()},
         {"program_bytes", file.size()},
         {"program_resident_bytes", resident_bytes(file.data(), file.size())},
         {"program_weight_bytes", program_weight_bytes(program.file())},
         {"planned_bytes", planned},
         {"private_packed_bytes", private_packed},
         {"rss_added_by_load", static_cast<int64_t>(m.after.rss) - static_cast<int64_t>(m.before.rss)},
         {"anonymous_added_by_load",
          static_cast<int64_t>(m.after.anonymous) - static_cast<int64_t>(m.before.anonymous)},
         {"rss_added_by_load_and_runs",
          static_cast<int64_t>((m.after_runs.rss ? m.after_runs : m.after).rss) - static_cast<int64_t>(m.before.rss)},
         {"anonymous_added_by_load_and_runs",
          static_cast<int64_t>((m.after_runs.rss ? m.after_runs : m.after).anonymous) -
              static_cast<int64_t>(m.before.anonymous)}});
  }
  return {{"data_files", files},
          {"models", model_list},
          {"process", process_json(measure_process())},
          {"how_measured",
           {{"mapped_bytes", "file size (exact)"},
            {"resident_bytes", "Rss of the file's mapping in /proc/self/smaps (measured)"},
            {"shared_packed_bytes", "bytes XNNPACK allocated creating each packed operator (counted by the plugin)"},
            {"private_packed_bytes", "as shared_packed_bytes, for operators private to this model's delegates"},
            {"program_weight_bytes", "bytes of the program's constant segment and named data (exact)"},
            {"planned_bytes", "memory-planned buffers the methods allocated (exact)"},
            {"rss_added_by_load", "process RSS after minus before loading the model (measured)"},
            {"rss_added_by_load_and_runs",
             "process RSS after the model's runs minus before its load (measured; planned memory comes from "
             "zero pages and counts once a run touches it)"},
            {"process", "/proc/self/smaps_rollup Rss and Anonymous, /proc/self/status VmHWM (measured)"}}}};
}

std::string render_memory_report(const json& r) {
  std::ostringstream out;
  out << "memory report (measured; see --json 'how_measured')\n";
  for (const json& f : r["data_files"]) {
    out << "  data " << f["name"].get<std::string>() << ": mapped " << mib(f["mapped_bytes"]) << ", resident "
        << mib(f["resident_bytes"]);
    if (!f["weight_cache"].get<std::string>().empty()) {
      out << ", packed once in " << f["weight_cache"].get<std::string>()
          << "'s cache: " << mib(f["shared_packed_bytes"]) << " in " << f["shared_packed_entries"] << " entries";
    }
    out << "; used by";
    for (const json& m : f["models"]) out << " " << m.get<std::string>();
    out << "\n";
  }
  for (const json& m : r["models"]) {
    out << "  model " << m["name"].get<std::string>() << ": program " << mib(m["program_bytes"]) << " (weights in it "
        << mib(m["program_weight_bytes"]) << "), planned " << mib(m["planned_bytes"]) << ", private packed "
        << mib(m["private_packed_bytes"]) << "; loading it added RSS "
        << mib(static_cast<uint64_t>(std::max<int64_t>(0, m["rss_added_by_load"].get<int64_t>()))) << ", with its runs "
        << mib(static_cast<uint64_t>(std::max<int64_t>(0, m["rss_added_by_load_and_runs"].get<int64_t>()))) << "\n";
  }
  const json& p = r["process"];
  out << "  process: RSS " << mib(p["rss"]) << " (anonymous " << mib(p["anonymous"]) << ", file-backed "
      << mib(p["file_backed"]) << "), peak " << mib(p["peak_rss"]) << "\n";
  return out.str();
}

}  // namespace etp::bundle
