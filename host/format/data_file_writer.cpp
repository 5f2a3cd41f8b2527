#include "format/data_file_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "flat_tensor_generated.h"

namespace etp::format {
namespace {

namespace ft = ::flat_tensor_flatbuffer;

constexpr uint32_t kHeaderLength = 40;

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

void put_u32(std::vector<uint8_t>* out, uint32_t v) { out->insert(out->end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4); }
void put_u64(std::vector<uint8_t>* out, uint64_t v) { out->insert(out->end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8); }

}  // namespace

Status write_data_file(const std::string& path, std::vector<TensorToWrite> tensors, uint64_t alignment) {
  if (alignment < 16 || (alignment & (alignment - 1)) != 0) {
    return Status(StatusCode::kInvalidArgument,
                  path + ": alignment " + std::to_string(alignment) + " must be a power of two >= 16");
  }
  std::sort(tensors.begin(), tensors.end(), [](const TensorToWrite& a, const TensorToWrite& b) { return a.key < b.key; });
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<ft::DataSegment>> segments;
  std::vector<flatbuffers::Offset<ft::NamedData>> named;
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    TensorToWrite& t = tensors[i];
    if (i > 0 && t.key == tensors[i - 1].key)
      return Status(StatusCode::kInvalidArgument, path + ": key '" + t.key + "' given twice");
    if (t.dim_order.empty()) {
      for (size_t d = 0; d < t.sizes.size(); ++d) t.dim_order.push_back(static_cast<uint8_t>(d));
    }
    segments.push_back(ft::CreateDataSegment(builder, offset, t.nbytes));
    auto layout = ft::CreateTensorLayout(builder, static_cast<executorch_flatbuffer::ScalarType>(t.scalar_type),
                                         builder.CreateVector(t.sizes), builder.CreateVector(t.dim_order));
    named.push_back(ft::CreateNamedData(builder, builder.CreateString(t.key), static_cast<uint32_t>(i), layout));
    offset = align_up(offset + t.nbytes, alignment);
  }
  const uint64_t data_size = tensors.empty() ? 0 : offset - align_up(tensors.back().nbytes, alignment) + tensors.back().nbytes;
  auto root = ft::CreateFlatTensor(builder, /*version=*/0, builder.CreateVector(segments), builder.CreateVector(named));
  ft::FinishFlatTensorBuffer(builder, root);
  const uint8_t* fb = builder.GetBufferPointer();
  const uint64_t fb_size = builder.GetSize();

  // The header is spliced in after the first 8 bytes (root offset + identifier); its padded
  // length goes into flatbuffer_offset, as ExecuTorch's writers do.
  const uint64_t padded_header = align_up(kHeaderLength, 16);  // 48, as ExecuTorch writes
  const uint64_t segment_base = align_up(padded_header + fb_size, alignment);
  std::vector<uint8_t> head;
  uint32_t root_offset = 0;
  std::memcpy(&root_offset, fb, 4);
  put_u32(&head, root_offset + static_cast<uint32_t>(padded_header));
  head.insert(head.end(), fb + 4, fb + 8);
  head.insert(head.end(), {'F', 'H', '0', '1'});
  put_u32(&head, kHeaderLength);
  put_u64(&head, padded_header);
  put_u64(&head, fb_size);
  put_u64(&head, segment_base);
  put_u64(&head, data_size);
  head.resize(8 + padded_header, 0);
  head.insert(head.end(), fb + 8, fb + fb_size);
  head.resize(segment_base, 0);

  const std::string temp = path + ".tmp";
  errno = 0;
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  if (!out) return Status(StatusCode::kIo, temp + ": cannot create: " + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
  uint64_t written = 0;
  static const char zeros[256] = {};
  for (const TensorToWrite& t : tensors) {
    out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(t.nbytes));
    written += t.nbytes;
    if (&t != &tensors.back()) {
      for (uint64_t pad = align_up(written, alignment) - written; pad > 0;) {
        const uint64_t n = std::min<uint64_t>(pad, sizeof(zeros));
        out.write(zeros, static_cast<std::streamsize>(n));
        pad -= n;
        written += n;
      }
    }
  }
  out.close();
  if (!out) return Status(StatusCode::kIo, temp + ": write failed: " + std::strerror(errno));
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return Status(StatusCode::kIo, path + ": cannot rename " + temp + " to it: " + std::strerror(errno));
  }
  return Status::success();
}

}  // namespace etp::format
