#include "inspect/inspect.h"

#include <cstring>
#include <sstream>

#include "format/file_kind.h"
#include "format/scalar_type.h"

namespace etp::inspect {
namespace {

using nlohmann::json;

// Largest power of two (up to 4096) dividing `offset`: how the data is aligned in the file.
uint64_t alignment_of(uint64_t offset) {
  uint64_t a = 1;
  while (a < 4096 && offset % (a * 2) == 0) a *= 2;
  return a;
}

std::string shape_text(const json& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i].get<int64_t>());
  return out + "]";
}

std::string join(const json& list, const char* sep = ", ") {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : sep) + item.get<std::string>();
  return out;
}

void render_io(std::ostringstream& out, const char* label, const json& list) {
  for (size_t i = 0; i < list.size(); ++i) {
    const json& v = list[i];
    out << "    " << label << " " << i << ": ";
    if (v["type"] == "Tensor") {
      out << v["dtype"].get<std::string>() << shape_text(v["shape"]) << " " << v["dynamism"].get<std::string>();
      bool contiguous = true;
      for (size_t d = 0; d < v["dim_order"].size(); ++d) contiguous &= v["dim_order"][d] == d;
      if (!contiguous) out << " dim_order " << shape_text(v["dim_order"]);
    } else {
      out << v["type"].get<std::string>();
    }
    out << "\n";
  }
}

void render_method(std::ostringstream& out, const json& m) {
  out << "  method " << m["name"].get<std::string>() << ": " << m["num_values"] << " values";
  for (const auto& [kind, n] : m["instructions"].items()) out << ", " << n << " " << kind;
  out << "\n";
  render_io(out, "input", m["inputs"]);
  render_io(out, "output", m["outputs"]);
  if (!m["operators"].empty()) out << "    operators (" << m["operators"].size() << "): " << join(m["operators"]) << "\n";
  const json& c = m["constants"];
  out << "    constants: " << c["in_program"]["count"] << " in program (" << c["in_program"]["bytes"] << " bytes), "
      << c["external"]["count"] << " external (" << c["external"]["bytes"] << " bytes), "
      << c["mutable_with_initial_value"]["count"] << " mutable with initial value\n";
  for (const auto& key : c["external"]["keys"]) out << "      external " << key.get<std::string>() << "\n";
  for (const auto& key : c["external"]["mutable_keys"]) out << "      external mutable " << key.get<std::string>() << "\n";
  out << "    planned buffers:";
  for (const auto& size : m["planned_buffers"]) out << " " << size << " bytes";
  out << (m["planned_buffers"].empty() ? " none\n" : "\n");
  for (const auto& d : m["delegates"]) {
    out << "    delegate " << d["index"] << ": " << d["backend"].get<std::string>() << ", " << d["blob_bytes"]
        << " bytes " << d["location"].get<std::string>();
    for (const auto& spec : d["compile_specs"]) {
      out << ", spec " << spec["key"].get<std::string>() << "=" << spec["value"].get<std::string>();
    }
    out << "\n";
    if (!d.contains("xnnpack")) continue;
    const json& x = d["xnnpack"];
    if (x.contains("error")) {
      out << "      XNNPACK blob error: " << x["error"].get<std::string>() << "\n";
      continue;
    }
    out << "      XNNPACK " << x["identifier"].get<std::string>() << ": " << x["num_nodes"] << " nodes, "
        << x["num_values"] << " values, " << x["num_externs"] << " externs, constants " << x["constants"]["named"]
        << " named + " << x["constants"]["in_blob"] << " in blob\n";
    out << "        nodes:";
    for (const auto& [name, n] : x["nodes"].items()) out << " " << name << " x" << n << ";";
    out << "\n        values:";
    for (const auto& [name, n] : x["values"].items()) out << " " << name << " x" << n << ";";
    out << "\n";
  }
}

std::string render_program(const json& d) {
  std::ostringstream out;
  out << d["file"].get<std::string>() << ": ExecuTorch program, " << d["bytes"] << " bytes, "
      << d["methods"].size() << " method(s), " << d["segments"].size() << " segment(s)\n";
  for (const auto& m : d["methods"]) render_method(out, m);
  if (!d["backends"].empty()) out << "  backends: " << join(d["backends"]) << "\n";
  for (const auto& s : d["segments"]) {
    out << "  segment " << s["index"] << ": offset " << s["offset"] << ", " << s["size"] << " bytes\n";
  }
  for (const auto& n : d["named_data"]) {
    out << "  named data " << n["key"].get<std::string>() << ": segment " << n["segment"] << ", " << n["bytes"]
        << " bytes\n";
  }
  return out.str();
}

std::string render_data_file(const json& d) {
  std::ostringstream out;
  out << d["file"].get<std::string>() << ": ExecuTorch data file, " << d["bytes"] << " bytes, " << d["keys"].size()
      << " key(s), " << d["segments"] << " segment(s), " << d["segment_data_bytes"] << " bytes of data\n";
  for (const auto& k : d["keys"]) {
    out << "  " << k["key"].get<std::string>() << ": ";
    if (k["layout"].is_null()) {
      out << "no layout";
    } else {
      out << k["layout"]["dtype"].get<std::string>() << shape_text(k["layout"]["sizes"]);
    }
    out << ", " << k["bytes"] << " bytes, segment " << k["segment"] << ", aligned " << k["alignment"] << "\n";
  }
  return out.str();
}

}  // namespace

json describe_data_file(const format::DataFile& data) {
  json keys = json::array();
  for (const format::DataEntry& e : data.entries()) {
    json layout = nullptr;
    if (e.layout) {
      layout = {{"dtype", format::scalar_type_name(e.layout->scalar_type)},
                {"sizes", e.layout->sizes},
                {"dim_order", e.layout->dim_order},
                {"nbytes", e.layout->nbytes}};
    }
    const uint64_t offset = static_cast<uint64_t>(e.bytes.data - data.file().data());
    keys.push_back({{"key", e.key},
                    {"segment", e.segment_index},
                    {"bytes", e.bytes.size},
                    {"file_offset", offset},
                    {"alignment", alignment_of(offset)},
                    {"layout", layout}});
  }
  const format::DataFileHeader& h = data.header();
  return {{"file", data.path()},
          {"kind", "data"},
          {"bytes", data.file().size()},
          {"header",
           {{"length", h.length},
            {"flatbuffer_offset", h.flatbuffer_offset},
            {"flatbuffer_size", h.flatbuffer_size},
            {"segment_base_offset", h.segment_base_offset}}},
          {"segments", data.num_segments()},
          {"segment_data_bytes", h.segment_data_size},
          {"keys", keys}};
}

Result<json> describe_file(const std::string& path) {
  ETP_TRY(auto file, MappedFile::open(path));
  if (format::file_kind(file->data(), file->size()) == format::FileKind::kData) {
    ETP_TRY(auto data, format::DataFile::open(std::move(file)));
    return describe_data_file(data);
  }
  // Anything else is read as a program; its reader names a wrong identifier clearly.
  ETP_TRY(auto program, format::ProgramFile::open(std::move(file)));
  return describe_program(program);
}

std::string render_text(const json& description) {
  return description["kind"] == "data" ? render_data_file(description) : render_program(description);
}

}  // namespace etp::inspect
