#include "format/data_file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

void put_u32(std::vector<uint8_t>* out, uint32_t v) {
  out->insert(out->end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4);
}
void put_u64(std::vector<uint8_t>* out, uint64_t v) {
  out->insert(out->end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8);
}

}  // namespace

Status write_data_file(const std::string& path, std::vector<TensorToWrite> tensors, uint64_t alignment) {
  if (alignment < 16 || (alignment & (alignment - 1)) != 0) {
    return Status(StatusCode::kInvalidArgument,
                  path + ": alignment " + std::to_string(alignment) + " must be a power of two >= 16");
  }
  std::sort(tensors.begin(), tensors.end(),
            [](const TensorToWrite& a, const TensorToWrite& b) { return a.key < b.key; });
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
    // Each nested object gets its own statement, before the table that points at it: the order
    // of a call's arguments is unspecified (GCC evaluates them right to left, clang left to
    // right), and a file's bytes must not depend on the compiler. This is the order the GCC
    // build took when tests/fixtures/etp_written was written.
    segments.push_back(ft::CreateDataSegment(builder, offset, t.nbytes));
    const auto dim_order = builder.CreateVector(t.dim_order);
    const auto sizes = builder.CreateVector(t.sizes);
    const auto layout = ft::CreateTensorLayout(builder, static_cast<executorch_flatbuffer::ScalarType>(t.scalar_type),
                                               sizes, dim_order);
    const auto key = builder.CreateString(t.key);
    named.push_back(ft::CreateNamedData(builder, key, static_cast<uint32_t>(i), layout));
    offset = align_up(offset + t.nbytes, alignment);
  }
  const uint64_t data_size =
      tensors.empty() ? 0 : offset - align_up(tensors.back().nbytes, alignment) + tensors.back().nbytes;
  const auto named_data = builder.CreateVector(named);
  const auto segment_table = builder.CreateVector(segments);
  const auto root = ft::CreateFlatTensor(builder, /*version=*/0, segment_table, named_data);
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

  // Crash-safe: write a temporary file in the same folder, fsync it, rename it over `path`, fsync
  // the folder. A kill at any moment leaves the old file or the new one, never a torn one (a
  // leftover temporary is garbage, never read).
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status(StatusCode::kIo, temp + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    ::unlink(temp.c_str());
    return Status(StatusCode::kIo, temp + ": " + what + ": " + reason);
  };
  auto put = [&](const void* data, uint64_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd, p, std::min<uint64_t>(size, 1u << 30));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      p += n;
      size -= static_cast<uint64_t>(n);
    }
    return true;
  };
  if (!put(head.data(), head.size())) return fail("write failed");
  uint64_t written = 0;
  static const char zeros[256] = {};
  for (const TensorToWrite& t : tensors) {
    if (!put(t.data, t.nbytes)) return fail("write failed");
    written += t.nbytes;
    if (&t != &tensors.back()) {
      for (uint64_t pad = align_up(written, alignment) - written; pad > 0;) {
        const uint64_t n = std::min<uint64_t>(pad, sizeof(zeros));
        if (!put(zeros, n)) return fail("write failed");
        pad -= n;
        written += n;
      }
    }
  }
  if (::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    return Status(StatusCode::kIo, temp + ": close failed: " + std::strerror(errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temp.c_str());
    return Status(StatusCode::kIo, path + ": cannot rename " + temp + " to it: " + reason);
  }
  // The rename is durable once the folder's entry is.
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::success();
}

}  // namespace etp::format
