// Graph: a verified view of one XNNPACK delegate payload (XH00 header + XNNGraph flatbuffer),
// with every value's dims, constant data and external binding resolved, and every node's
// type checked (its value ids are checked by the node compilers, compile_*.cpp). Built once
// at delegate init; read-only afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "etp_plugin.h"
#include "xnnpack_graph_generated.h"

namespace etp_xnnpack {

struct Value {
  uint32_t id = 0;                 // id_out, what nodes refer to
  int datatype = 0;                // fb_xnnpack::XNNDatatype
  std::vector<size_t> dims;        // physical dims (NHWC where XNNPACK wants it)
  size_t numel = 1;
  const float* constant = nullptr; // constant data (fp32), else null
  uint64_t constant_bytes = 0;
  std::string named_key;           // key of named constant data ("" if in-blob or none)
  uint64_t file_id = 0;            // data file of a named constant (0: the program)
  bool cache_owned = false;        // the manifest gives that file's weights to our cache
  uint32_t external_id = UINT32_MAX;  // index into the delegate call's args, or UINT32_MAX
  bool is_input = false, is_output = false;
};

class Graph {
 public:
  // Parses and verifies `payload`; constants come from `named` via the host. Logs and
  // returns false with `error` set on any problem (naming the node or value).
  bool parse(const etp_host_api* host, const etp_backend_init_args* args, std::string* error);

  const fb_xnnpack::XNNGraph& root() const { return *root_; }
  std::vector<Value>& values() { return values_; }
  const std::vector<Value>& values() const { return values_; }
  // Index into values() of value id `id`; -1 when unknown or XNN_INVALID_VALUE_ID.
  int find(uint32_t id) const;
  // Keys this graph obtained from the host (to release after packing).
  const std::vector<std::string>& named_keys() const { return named_keys_; }

 private:
  bool parse_header(const uint8_t* data, size_t size, std::string* error);
  bool parse_values(const etp_host_api* host, const etp_backend_init_args* args, std::string* error);
  bool check_nodes(std::string* error);

  const fb_xnnpack::XNNGraph* root_ = nullptr;
  const uint8_t* constant_region_ = nullptr;
  uint64_t constant_region_size_ = 0;
  bool has_header_ = false;
  std::vector<Value> values_;
  std::unordered_map<uint32_t, int> by_id_;
  std::vector<std::string> named_keys_;
};

// Name of a node type for messages ("XNNFullyConnected"), "unknown(N)" if out of range.
std::string node_name(fb_xnnpack::XNodeUnion type);

}  // namespace etp_xnnpack
