// XnnpackBlob: a verified view of an XNNPACK delegate payload ("XH00" header, then an
// XNNGraph flatbuffer with identifier "XN01" or "XN00", then optional constant bytes).
// Legacy blobs without the header are the flatbuffer alone. Thread-safe for reads.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/mapped_file.h"

namespace fb_xnnpack {
struct XNNGraph;
}

namespace etp::format {

struct XnnpackBlobHeader {
  bool present = false;  // false for legacy blobs
  uint16_t length = 0;
  uint32_t flatbuffer_offset = 0;
  uint32_t flatbuffer_size = 0;
  uint32_t constant_data_offset = 0;
  uint64_t constant_data_size = 0;
};

class XnnpackBlob {
 public:
  // Parses and verifies `blob`; `name` is used in messages (e.g. "model.pte delegate 0").
  // The bytes are borrowed and must outlive the view.
  static Result<XnnpackBlob> parse(ByteSpan blob, const std::string& name);

  const XnnpackBlobHeader& header() const { return header_; }
  const fb_xnnpack::XNNGraph& graph() const { return *graph_; }
  // Bytes of the in-blob constant region (empty for current exports).
  ByteSpan constant_data() const { return constants_; }
  const char* identifier() const { return identifier_; }

 private:
  XnnpackBlobHeader header_;
  const fb_xnnpack::XNNGraph* graph_ = nullptr;
  ByteSpan constants_;
  char identifier_[5] = {};
};

// Name of XNodeUnion member `type` (e.g. "XNNFullyConnected"), or "unknown".
const char* xnnpack_node_name(int type);
// Name of XNNDatatype `type` without prefix (e.g. "fp32"), or "unknown".
const char* xnnpack_datatype_name(int type);

}  // namespace etp::format
