#include "format/xnnpack_blob.h"

#include <cstring>

#include "format/byte_reader.h"
#include "xnnpack_graph_generated.h"

namespace etp::format {
namespace {

constexpr size_t kBlobHeaderLength = 30;
constexpr size_t kMinFlatbufferSize = 8;

}  // namespace

Result<XnnpackBlob> XnnpackBlob::parse(ByteSpan blob, const std::string& name) {
  auto malformed = [&](const std::string& what) { return Status(StatusCode::kMalformed, name + ": " + what); };
  XnnpackBlob view;
  ByteSpan flatbuffer = blob;
  if (blob.size >= 8 && std::memcmp(blob.data + 4, "XH00", 4) == 0) {
    ByteReader reader(blob.data, blob.size);
    XnnpackBlobHeader& h = view.header_;
    h.present = true;
    if (blob.size < kBlobHeaderLength) {
      return malformed("truncated XNNPACK header: " + str(blob.size) + " bytes, need " + str(kBlobHeaderLength));
    }
    reader.read_u16(8, &h.length);
    reader.read_u32(10, &h.flatbuffer_offset);
    reader.read_u32(14, &h.flatbuffer_size);
    reader.read_u32(18, &h.constant_data_offset);
    reader.read_u64(22, &h.constant_data_size);
    if (h.length < kBlobHeaderLength)
      return malformed("XNNPACK header length " + str(h.length) + " is below " + str(kBlobHeaderLength));
    if (h.flatbuffer_offset < h.length) {  // as the XNNPACK plugin requires: the graph follows the header
      return malformed("XNNPACK flatbuffer offset " + str(h.flatbuffer_offset) + " lies inside the " + str(h.length) +
                       "-byte header");
    }
    if (h.flatbuffer_size < kMinFlatbufferSize || !range_fits(h.flatbuffer_offset, h.flatbuffer_size, blob.size)) {
      return malformed("XNNPACK flatbuffer (offset " + str(h.flatbuffer_offset) + ", " + str(h.flatbuffer_size) +
                       " bytes) does not fit in the " + str(blob.size) + "-byte blob");
    }
    if (h.constant_data_offset < uint64_t{h.flatbuffer_offset} + h.flatbuffer_size ||
        !range_fits(h.constant_data_offset, h.constant_data_size, blob.size)) {
      return malformed("XNNPACK constant data (offset " + str(h.constant_data_offset) + ", " +
                       str(h.constant_data_size) + " bytes) must follow the flatbuffer inside the blob");
    }
    flatbuffer = {blob.data + h.flatbuffer_offset, h.flatbuffer_size};
    view.constants_ = {blob.data + h.constant_data_offset, static_cast<size_t>(h.constant_data_size)};
  }
  if (flatbuffer.size < kMinFlatbufferSize) return malformed("XNNPACK payload is too short for a flatbuffer");
  if (flatbuffer.size >= FLATBUFFERS_MAX_BUFFER_SIZE) return malformed("XNNPACK flatbuffer exceeds 2 GiB");
  const char* id = reinterpret_cast<const char*>(flatbuffer.data + 4);
  if (std::memcmp(id, "XN01", 4) != 0 && std::memcmp(id, "XN00", 4) != 0) {
    return malformed("XNNPACK graph identifier " + printable_tag(id) + ", expected 'XN01' or 'XN00'");
  }
  std::memcpy(view.identifier_, id, 4);
  if (reinterpret_cast<uintptr_t>(flatbuffer.data) % alignof(uint64_t) != 0) {
    return malformed("XNNPACK flatbuffer is not 8-byte aligned");
  }
  flatbuffers::Verifier verifier(flatbuffer.data, flatbuffer.size, /*max_depth=*/64, /*max_tables=*/1u << 26);
  if (!verifier.VerifyBuffer<fb_xnnpack::XNNGraph>(nullptr)) {
    return malformed("XNNPACK graph flatbuffer failed verification (corrupt or truncated)");
  }
  view.graph_ = fb_xnnpack::GetXNNGraph(flatbuffer.data);
  return view;
}

const char* xnnpack_node_name(int type) {
  if (type <= 0 || type > static_cast<int>(fb_xnnpack::XNodeUnion::MAX)) return "unknown";
  return fb_xnnpack::EnumNameXNodeUnion(static_cast<fb_xnnpack::XNodeUnion>(type));
}

const char* xnnpack_datatype_name(int type) {
  if (type < 0 || type > static_cast<int>(fb_xnnpack::XNNDatatype::MAX)) return "unknown";
  const char* name = fb_xnnpack::EnumNameXNNDatatype(static_cast<fb_xnnpack::XNNDatatype>(type));
  const char* prefix = "xnn_datatype_";
  return std::strncmp(name, prefix, std::strlen(prefix)) == 0 ? name + std::strlen(prefix) : name;
}

}  // namespace etp::format
