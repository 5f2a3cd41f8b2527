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
#include "nodes.h"
#include "xnnpack_graph_generated.h"

namespace etp_xnnpack {

using Datatype = fb_xnnpack::XNNDatatype;

// Bytes per element of the byte-addressed datatypes this plugin accepts (fp32, fp16, qint8,
// quint8, qint32, qcint8, qcint32, int32, and qdint8, whose per-row parameters follow its data);
// 0 for the 4-bit weight types (qbint4, qcint4: two per byte, read only by the native
// dynamically quantized fully-connected kernel) and for what the plugin does not run (packed
// types, bf16).
size_t element_size(Datatype type);

struct Value {
  uint32_t id = 0;  // id_out, what nodes refer to
  Datatype datatype = Datatype::xnn_datatype_fp32;
  size_t elem_size = 4;      // element_size(datatype)
  std::vector<size_t> dims;  // physical dims (NHWC where XNNPACK wants it)
  size_t numel = 1;
  const void* constant = nullptr;  // constant data (numel * elem_size bytes), else null
  uint64_t constant_bytes = 0;
  // Quantization (XNNQuantizedTensorValue): per-tensor scale and zero point, or per-channel
  // scales (one per entry of dims[channel_dim]) for qcint8 / qcint32.
  float scale = 1.0f;
  int32_t zero_point = 0;
  std::vector<float> channel_scales;
  int32_t channel_dim = 0;
  // qbint4: k per scale, and the bf16 scales, [dims[0]][dims[1] / group_size] row-major.
  size_t group_size = 0;
  std::vector<uint16_t> block_scales;

  const float* f32() const { return static_cast<const float*>(constant); }
  bool is(Datatype type) const { return datatype == type; }
  std::string named_key;              // key of named constant data ("" if in-blob or none)
  uint64_t file_id = 0;               // data file of a named constant (0: the program)
  bool cache_owned = false;           // the manifest gives that file's weights to our cache
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
  // The value ids node `index` reads and writes (its entry of the node table resolves them once,
  // here; empty for node types the plugin does not run).
  const NodeIds& node_ids(size_t index) const { return node_ids_[index]; }
  // Keys this graph obtained from the host (to release after packing).
  const std::vector<std::string>& named_keys() const { return named_keys_; }

 private:
  bool parse_header(const uint8_t* data, size_t size, std::string* error);
  bool parse_values(const etp_host_api* host, const etp_backend_init_args* args, std::string* error);
  // The bytes of constant_data[idx] (named or in the payload), at least `need` of them.
  bool constant_bytes(const etp_host_api* host, const etp_backend_init_args* args, uint32_t idx, uint64_t need,
                      const std::string& where, Value* v, const void** data, std::string* error);
  bool quant_params(const etp_host_api* host, const etp_backend_init_args* args,
                    const fb_xnnpack::XNNQuantizedTensorValue& q, const std::string& where, Value* v,
                    std::string* error);
  bool block_scales(const etp_host_api* host, const etp_backend_init_args* args,
                    const fb_xnnpack::PerChannelGroupQuant& g, const std::string& where, Value* v,
                    std::string* error);
  bool check_nodes(std::string* error);

  const fb_xnnpack::XNNGraph* root_ = nullptr;
  const uint8_t* constant_region_ = nullptr;
  uint64_t constant_region_size_ = 0;
  bool has_header_ = false;
  std::vector<Value> values_;
  std::unordered_map<uint32_t, int> by_id_;
  std::vector<std::string> named_keys_;
  std::vector<NodeIds> node_ids_;
};

// Where a qdint8 value's per-row parameters (native::Qd8Params) start in its storage, after
// its int8 data and the 16 bytes kernels may read past it.
size_t qd8_params_offset(const Value& v);
// Bytes of storage a value needs in the delegate's arena (a qdint8 value's include its rows'
// parameters, for the rows of its exported, largest, dims).
size_t storage_bytes(const Value& v);

// True for the datatypes of dynamically quantized linears: qdint8 activations, and qbint4 and
// qcint4 weights. Only a Convert (fp32 to qdint8) and a fully-connected layer may touch them.
bool is_dynamic_linear_type(Datatype type);

// Name of a datatype for messages ("xnn_datatype_qint8").
std::string datatype_name(Datatype type);

// Name of a node type for messages ("XNNFullyConnected"), "unknown(N)" if out of range.
std::string node_name(fb_xnnpack::XNodeUnion type);

}  // namespace etp_xnnpack
