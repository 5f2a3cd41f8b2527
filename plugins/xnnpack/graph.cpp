#include "graph.h"

#include <cmath>
#include <cstring>

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
    case Datatype::xnn_datatype_qcint8: return 1;
    default: return 0;
  }
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
  const bool per_channel = v->is(Datatype::xnn_datatype_qcint8) || v->is(Datatype::xnn_datatype_qcint32);
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
    return *error = where + ": " + std::string(fb_xnnpack::EnumNameXNNQuantParams(q.quant_params_type())) +
                    " quantization is not supported by this XNNPACK (no dynamic or blockwise quantization)",
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
    if (v.elem_size == 0) {
      return *error = where + ": " + datatype_name(v.datatype) +
                      " is not supported by this XNNPACK (fp32, fp16, int32 and 8-bit static quantization only)",
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
      if (v.is(Datatype::xnn_datatype_qcint8) || v.is(Datatype::xnn_datatype_qcint32)) {
        return *error = where + ": a " + datatype_name(v.datatype) + " value cannot be a graph input or output", false;
      }
      v.external_id = t->external_id();
      if (v.external_id >= kMaxExterns) return *error = where + ": external id out of range", false;
    }
    if (uint32_t idx = t->constant_buffer_idx()) {
      const uint64_t need = v.numel * v.elem_size;
      if (!constant_bytes(host, args, idx, need, where, &v, &v.constant, error)) return false;
      if (reinterpret_cast<uintptr_t>(v.constant) % v.elem_size != 0) {
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
  }
  return true;
}

}  // namespace etp_xnnpack
