#include "graph.h"

#include <cmath>
#include <cstring>

#include "native_qd8.h"

namespace etp_xnnpack {
namespace {

constexpr size_t kHeaderLength = 30;
constexpr size_t kMaxDims = 6;  // XNN_MAX_TENSOR_DIMS
constexpr uint32_t kMaxExterns = 4096;

template <typename T>
T read_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

bool range_fits(uint64_t offset, uint64_t size, uint64_t limit) { return offset <= limit && size <= limit - offset; }

}  // namespace

std::string node_name(fb_xnnpack::XNodeUnion type) {
  const int t = static_cast<int>(type);
  if (t <= 0 || t > static_cast<int>(fb_xnnpack::XNodeUnion::MAX)) return "unknown node type " + std::to_string(t);
  return fb_xnnpack::EnumNameXNodeUnion(type);
}

int Graph::find(uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? -1 : it->second;
}

bool Graph::parse(const etp_host_api* host, const etp_backend_init_args* args, std::string* error) {
  return parse_header(static_cast<const uint8_t*>(args->payload), args->payload_size, error) &&
         parse_values(host, args, error) && check_nodes(error);
}

bool Graph::parse_header(const uint8_t* data, size_t size, std::string* error) {
  const uint8_t* fb = data;
  size_t fb_size = size;
  if (size >= 8 && std::memcmp(data + 4, "XH00", 4) == 0) {
    if (size < kHeaderLength) return *error = "truncated XNNPACK header (" + std::to_string(size) + " bytes)", false;
    const uint16_t header_length = read_le<uint16_t>(data + 8);
    if (header_length < kHeaderLength) {
      return *error = "XNNPACK header length is " + std::to_string(header_length) + ", at least 30 expected", false;
    }
    const uint32_t fb_offset = read_le<uint32_t>(data + 10);
    fb_size = read_le<uint32_t>(data + 14);
    const uint32_t const_offset = read_le<uint32_t>(data + 18);
    const uint64_t const_size = read_le<uint64_t>(data + 22);
    if (fb_size < 8 || fb_offset < header_length || !range_fits(fb_offset, fb_size, size))
      return *error = "XNNPACK flatbuffer lies outside the payload", false;
    if (const_offset < uint64_t{fb_offset} + fb_size || !range_fits(const_offset, const_size, size)) {
      return *error = "XNNPACK constant data lies outside the payload", false;
    }
    fb = data + fb_offset;
    constant_region_ = data + const_offset;
    constant_region_size_ = const_size;
    has_header_ = true;
  }
  if (fb_size < 8 || (std::memcmp(fb + 4, "XN01", 4) != 0 && std::memcmp(fb + 4, "XN00", 4) != 0)) {
    return *error = "payload is not an XNNPACK graph (identifier must be XN01 or XN00)", false;
  }
  if (reinterpret_cast<uintptr_t>(fb) % 8 != 0) return *error = "XNNPACK flatbuffer is not 8-byte aligned", false;
  flatbuffers::Verifier verifier(fb, fb_size, /*max_depth=*/64, /*max_tables=*/1u << 24);
  if (!verifier.VerifyBuffer<fb_xnnpack::XNNGraph>(nullptr)) return *error = "XNNPACK graph failed verification", false;
  root_ = fb_xnnpack::GetXNNGraph(fb);
  if (root_->num_externs() > kMaxExterns) return *error = "XNNPACK graph has too many externals", false;
  return true;
}

size_t element_size(Datatype type) {
  switch (type) {
    case Datatype::xnn_datatype_fp32:
    case Datatype::xnn_datatype_qint32:
    case Datatype::xnn_datatype_qcint32:
    case Datatype::xnn_datatype_int32: return 4;
    case Datatype::xnn_datatype_fp16: return 2;
    case Datatype::xnn_datatype_qint8:
    case Datatype::xnn_datatype_quint8:
    case Datatype::xnn_datatype_qcint8:
    case Datatype::xnn_datatype_qdint8: return 1;
    default: return 0;
  }
}

bool is_dynamic_linear_type(Datatype type) {
  return type == Datatype::xnn_datatype_qdint8 || type == Datatype::xnn_datatype_qbint4 ||
         type == Datatype::xnn_datatype_qcint4;
}

namespace {
bool is_four_bit(Datatype type) {
  return type == Datatype::xnn_datatype_qbint4 || type == Datatype::xnn_datatype_qcint4;
}
size_t align64(size_t v) { return (v + 63) / 64 * 64; }
}  // namespace

size_t qd8_params_offset(const Value& v) { return align64(v.numel + 16); }

size_t storage_bytes(const Value& v) {
  if (v.is(Datatype::xnn_datatype_qdint8)) {
    const size_t row = v.dims.empty() ? 1 : v.dims.back();
    return qd8_params_offset(v) + (row == 0 ? 0 : v.numel / row) * sizeof(native::Qd8Params);
  }
  if (is_four_bit(v.datatype)) return v.dims.size() == 2 ? v.dims[0] * ((v.dims[1] + 1) / 2) : 0;
  return v.numel * v.elem_size;
}

std::string datatype_name(Datatype type) {
  const char* name = fb_xnnpack::EnumNameXNNDatatype(type);
  return name && *name ? name : "datatype " + std::to_string(static_cast<int>(type));
}

bool Graph::constant_bytes(const etp_host_api* host, const etp_backend_init_args* args, uint32_t idx, uint64_t need,
                           const std::string& where, Value* v, const void** data, std::string* error) {
  if (!has_header_) {
    const auto* legacy = root_->constant_buffer();
    if (!legacy || idx >= legacy->size() || !legacy->Get(idx)->storage()) {
      return *error = where + ": constant buffer " + std::to_string(idx) + " is out of range", false;
    }
    const auto* storage = legacy->Get(idx)->storage();
    if (storage->size() < need) return *error = where + ": constant buffer is too small", false;
    *data = storage->data();
    return true;
  }
  const auto* constant_data = root_->constant_data();
  if (!constant_data || idx >= constant_data->size()) {
    return *error = where + ": constant " + std::to_string(idx) + " is out of range", false;
  }
  const fb_xnnpack::ConstantDataOffset* cd = constant_data->Get(idx);
  if (cd->named_key() == nullptr) {
    if (!range_fits(cd->offset(), need, constant_region_size_)) {
      return *error = where + ": constant lies outside the payload's constant data", false;
    }
    *data = constant_region_ + cd->offset();
    return true;
  }
  etp_named_data named{};
  named.header = ETP_ABI_HEADER(etp_named_data);
  const std::string key = cd->named_key()->str();
  if (host->find_named_data(host->self, args->named_data, key.c_str(), &named) != ETP_OK) {
    return *error = where + ": named constant '" + key + "' is in no data file or program", false;
  }
  if (named.size < need) {
    return *error = where + ": named constant '" + key + "' has " + std::to_string(named.size) +
                    " bytes, the graph needs " + std::to_string(need),
           false;
  }
  *data = named.data;
  named_keys_.push_back(key);
  if (v != nullptr) {
    v->named_key = key;
    v->file_id = named.file_id;
    v->cache_owned = ETP_ABI_HAS_FIELD(&named, cache_owned) && named.cache_owned;
  }
  return true;
}

bool Graph::quant_params(const etp_host_api* host, const etp_backend_init_args* args,
                         const fb_xnnpack::XNNQuantizedTensorValue& q, const std::string& where, Value* v,
                         std::string* error) {
  const bool per_channel = v->is(Datatype::xnn_datatype_qcint8) || v->is(Datatype::xnn_datatype_qcint32) ||
                           v->is(Datatype::xnn_datatype_qcint4);
  if (const fb_xnnpack::PerTokenDynamicQuant* t = q.quant_params_as_PerTokenDynamicQuant()) {
    if (!v->is(Datatype::xnn_datatype_qdint8)) {
      return *error = where + ": per-token dynamic quantization on " + datatype_name(v->datatype), false;
    }
    // 1: each row of the last dim has its own parameters (linear layers); more trailing dims
    // per row is what ExecuTorch writes for dynamically quantized convolutions.
    if (t->num_nonbatch_dims() != 1) {
      return *error = where + ": qdint8 with " + std::to_string(t->num_nonbatch_dims()) +
                      " non-batch dims is not supported (1, for linear layers, is)",
             false;
    }
    return true;
  }
  if (const fb_xnnpack::PerChannelGroupQuant* g = q.quant_params_as_PerChannelGroupQuant()) {
    return block_scales(host, args, *g, where, v, error);
  }
  if (v->is(Datatype::xnn_datatype_qdint8) || v->is(Datatype::xnn_datatype_qbint4)) {
    return *error = where + ": " + datatype_name(v->datatype) + " needs " +
                    (v->is(Datatype::xnn_datatype_qdint8) ? "per-token dynamic" : "per-channel-group") +
                    " quantization parameters",
           false;
  }
  if (const fb_xnnpack::PerTensorQuant* t = q.quant_params_as_PerTensorQuant()) {
    if (per_channel) return *error = where + ": " + datatype_name(v->datatype) + " needs per-channel scales", false;
    v->scale = t->scale();
    v->zero_point = t->zero_point();
    const bool in_range = v->is(Datatype::xnn_datatype_quint8)  ? (v->zero_point >= 0 && v->zero_point <= 255)
                          : v->is(Datatype::xnn_datatype_qint8) ? (v->zero_point >= -128 && v->zero_point <= 127)
                                                                : v->zero_point == 0;
    if (!(v->scale > 0.0f) || !std::isfinite(v->scale) || !in_range) {
      return *error = where + ": quantization scale must be positive and finite and the zero point in range", false;
    }
    return true;
  }
  const fb_xnnpack::PerChannelQuant* c = q.quant_params_as_PerChannelQuant();
  if (c == nullptr) {
    return *error = where + ": quantization parameters of type " + std::to_string(static_cast<int>(q.quant_params_type())) +
                    " are not known",
           false;
  }
  if (!per_channel) return *error = where + ": per-channel scales on " + datatype_name(v->datatype), false;
  if (c->channel_dim() < 0 || static_cast<size_t>(c->channel_dim()) >= v->dims.size()) {
    return *error = where + ": channel_dim out of range", false;
  }
  v->channel_dim = c->channel_dim();
  const size_t channels = v->dims[static_cast<size_t>(c->channel_dim())];
  if (c->scale_buffer_idx() != 0) {
    if (c->num_scales() != channels) return *error = where + ": num_scales differs from the channel count", false;
    const void* data = nullptr;
    if (!constant_bytes(host, args, c->scale_buffer_idx(), uint64_t{channels} * sizeof(float), where + " scales",
                        nullptr, &data, error)) {
      return false;
    }
    v->channel_scales.resize(channels);
    std::memcpy(v->channel_scales.data(), data, channels * sizeof(float));
  } else {
    if (!c->scale() || c->scale()->size() != channels)
      return *error = where + ": expected one scale per channel", false;
    v->channel_scales.assign(c->scale()->begin(), c->scale()->end());
  }
  for (float s : v->channel_scales) {
    if (!(s > 0.0f) || !std::isfinite(s))
      return *error = where + ": per-channel scales must be positive and finite", false;
  }
  return true;
}

bool Graph::block_scales(const etp_host_api* host, const etp_backend_init_args* args,
                         const fb_xnnpack::PerChannelGroupQuant& g, const std::string& where, Value* v,
                         std::string* error) {
  if (!v->is(Datatype::xnn_datatype_qbint4)) {
    return *error = where + ": per-channel-group quantization on " + datatype_name(v->datatype) +
                    " (only qbint4 has it)",
           false;
  }
  // As XNNPACK checks when it creates the operator: 2-D [n, k] weights, blocks of k that are a
  // multiple of 32 and divide k.
  if (v->dims.size() != 2 || g.channel_dim() != 0) {
    return *error = where + ": qbint4 weights must be 2-D [output channels, input channels] with channel_dim 0",
           false;
  }
  const size_t n = v->dims[0], k = v->dims[1];
  if (g.group_size() <= 0 || g.group_size() % 32 != 0 || k % static_cast<size_t>(g.group_size()) != 0) {
    return *error = where + ": qbint4 group size " + std::to_string(g.group_size()) +
                    " must be a positive multiple of 32 that divides the " + std::to_string(k) + " input channels",
           false;
  }
  v->group_size = static_cast<size_t>(g.group_size());
  const size_t count = n * (k / v->group_size);
  if (g.scale_buffer_idx() != 0) {  // bf16, as written by the exporter
    if (g.num_scales() != count) {
      return *error = where + ": num_scales is " + std::to_string(g.num_scales()) + ", the weights need " +
                      std::to_string(count),
             false;
    }
    const void* data = nullptr;
    if (!constant_bytes(host, args, g.scale_buffer_idx(), uint64_t{count} * 2, where + " scales", nullptr, &data,
                        error)) {
      return false;
    }
    v->block_scales.resize(count);
    std::memcpy(v->block_scales.data(), data, count * 2);
  } else {  // inline fp32 scales: ExecuTorch's runtime truncates them to bf16
    if (!g.scale() || g.scale()->size() != count) {
      return *error = where + ": expected " + std::to_string(count) + " block scales", false;
    }
    v->block_scales.resize(count);
    for (size_t i = 0; i < count; ++i) {
      const float f = g.scale()->Get(static_cast<flatbuffers::uoffset_t>(i));
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof(bits));
      v->block_scales[i] = static_cast<uint16_t>(bits >> 16);
    }
  }
  for (uint16_t h : v->block_scales) {
    if (!std::isnormal(native::bf16_to_float(h)) || native::bf16_to_float(h) < 0.0f) {
      return *error = where + ": qbint4 block scales must be positive, finite and normal", false;
    }
  }
  return true;
}

bool Graph::parse_values(const etp_host_api* host, const etp_backend_init_args* args, std::string* error) {
  const auto* values = root_->xvalues();
  for (flatbuffers::uoffset_t i = 0; values && i < values->size(); ++i) {
    const fb_xnnpack::XValue* xv = values->Get(i);
    const fb_xnnpack::XNNQuantizedTensorValue* q = xv->xvalue_union_as_XNNQuantizedTensorValue();
    const fb_xnnpack::XNNTensorValue* t = q ? q->tensor_value() : xv->xvalue_union_as_XNNTensorValue();
    const std::string where = "value " + std::to_string(i);
    if (t == nullptr) return *error = where + ": unknown value type", false;
    Value v;
    v.id = t->id_out();
    v.datatype = t->datatype();
    v.elem_size = element_size(v.datatype);
    if (v.elem_size == 0 && !is_four_bit(v.datatype)) {
      return *error = where + ": " + datatype_name(v.datatype) +
                      " is not supported (fp32, fp16, int32, 8-bit static quantization, and qdint8 activations with "
                      "qbint4, qcint4 or qcint8 weights)",
             false;
    }
    const bool quantized = v.datatype != Datatype::xnn_datatype_fp32 && v.datatype != Datatype::xnn_datatype_fp16 &&
                           v.datatype != Datatype::xnn_datatype_int32;
    if (quantized != (q != nullptr)) {
      return *error = where + ": " + datatype_name(v.datatype) + (quantized ? " needs" : " must not have") +
                      " quantization parameters",
             false;
    }
    const auto* dims = t->dims();
    if (dims == nullptr || dims->size() != t->num_dims() || dims->size() > kMaxDims) {
      return *error = where + ": dims must list num_dims (at most 6) sizes", false;
    }
    for (uint32_t d : *dims) {
      v.dims.push_back(d);
      if (d != 0 && v.numel > (uint64_t{1} << 40) / d) return *error = where + ": too many elements", false;
      v.numel *= d;
    }
    if (q != nullptr && !quant_params(host, args, *q, where, &v, error)) return false;
    if ((t->flags() & ~3u) != 0) return *error = where + ": unknown value flags " + std::to_string(t->flags()), false;
    v.is_input = t->flags() & 1u;
    v.is_output = t->flags() & 2u;
    if (v.is_input || v.is_output) {
      // Graph inputs and outputs are plain tensors: per-channel quantized ones have no dtype.
      if (v.is(Datatype::xnn_datatype_qcint8) || v.is(Datatype::xnn_datatype_qcint32) ||
          is_dynamic_linear_type(v.datatype)) {
        return *error = where + ": a " + datatype_name(v.datatype) + " value cannot be a graph input or output", false;
      }
      v.external_id = t->external_id();
      if (v.external_id >= kMaxExterns) return *error = where + ": external id out of range", false;
    }
    if (is_four_bit(v.datatype) && (v.dims.size() != 2 || t->constant_buffer_idx() == 0)) {
      return *error = where + ": " + datatype_name(v.datatype) + " weights must be constant and 2-D", false;
    }
    if (uint32_t idx = t->constant_buffer_idx()) {
      if (v.is(Datatype::xnn_datatype_qdint8)) return *error = where + ": a qdint8 value cannot be constant", false;
      const uint64_t need = storage_bytes(v);
      if (!constant_bytes(host, args, idx, need, where, &v, &v.constant, error)) return false;
      if (v.elem_size != 0 && reinterpret_cast<uintptr_t>(v.constant) % v.elem_size != 0) {
        return *error = where + ": constant data is not " + std::to_string(v.elem_size) + "-byte aligned", false;
      }
      v.constant_bytes = need;
    }
    if (!by_id_.emplace(v.id, static_cast<int>(values_.size())).second) {
      return *error = where + ": value id " + std::to_string(v.id) + " is defined twice", false;
    }
    values_.push_back(std::move(v));
  }
  return true;
}

bool Graph::check_nodes(std::string* error) {
  const auto* nodes = root_->xnodes();
  for (flatbuffers::uoffset_t i = 0; nodes && i < nodes->size(); ++i) {
    const fb_xnnpack::XNode* node = nodes->Get(i);
    const fb_xnnpack::XNodeUnion type = node->xnode_union_type();
    if (type == fb_xnnpack::XNodeUnion::NONE || type > fb_xnnpack::XNodeUnion::MAX || node->xnode_union() == nullptr) {
      return *error = "node " + std::to_string(i) + ": " + node_name(type), false;
    }
    node_ids_.emplace_back();
    if (const NodeType* t = node_type(type)) t->ids(*node, &node_ids_.back());
    // qdint8 data is followed by per-row parameters and 4-bit weights are packed two per byte:
    // only the nodes written for them may read or write such values.
    const NodeIds& ids = node_ids_.back();
    const bool fc = type == fb_xnnpack::XNodeUnion::XNNFullyConnected;
    const bool convert = type == fb_xnnpack::XNodeUnion::XNNConvert;
    // qdint8: a Convert's output or a fully-connected layer's input; 4-bit: that layer's filter.
    auto check = [&](uint32_t id, bool output, size_t slot) {
      const int index = find(id);
      if (index < 0) return true;
      const Datatype t = values_[static_cast<size_t>(index)].datatype;
      const bool allowed = t == Datatype::xnn_datatype_qdint8 ? (output ? convert : fc && slot == 0)
                                                               : !output && fc && slot == 1;
      if (!is_dynamic_linear_type(t) || allowed) return true;
      return *error = "node " + std::to_string(i) + " (" + node_name(type) + ") uses value id " + std::to_string(id) +
                      " of type " + datatype_name(t) +
                      ", which only a Convert from fp32 (qdint8) and a fully-connected layer (qdint8 input, "
                      "4-bit weights) may use",
             false;
    };
    for (size_t slot = 0; slot < ids.in.size(); ++slot) {
      if (!check(ids.in[slot], false, slot)) return false;
    }
    for (uint32_t id : ids.out) {
      if (!check(id, true, 0)) return false;
    }
  }
  return true;
}

}  // namespace etp_xnnpack
