#include "core/npy.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace etp {
namespace {

struct DescrInfo {
  const char* descr;
  int32_t dtype;
  size_t size;
};

// ExecuTorch ScalarType values for the NumPy dtypes etp exchanges.
constexpr DescrInfo kDescrs[] = {
    {"<f4", 6, 4}, {"<f8", 7, 8},  {"<f2", 5, 2},  {"<i8", 4, 8},  {"<i4", 3, 4},  {"<i2", 2, 2}, {"|i1", 1, 1},
    {"|u1", 0, 1}, {"|b1", 11, 1}, {"<u2", 27, 2}, {"<u4", 28, 4}, {"<u8", 29, 8}, {"<c8", 9, 8}, {"<c16", 10, 16},
};

Status bad(const std::string& path, const std::string& what) {
  return Status(StatusCode::kMalformed, path + ": " + what);
}

// Value of `key` in the header dict, e.g. 'descr': '<f4' -> <f4 (quotes stripped).
std::string dict_value(const std::string& header, const std::string& key) {
  const size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return {};
  size_t v = header.find(':', k);
  if (v == std::string::npos) return {};
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  if (v < header.size() && header[v] == '(') return header.substr(v, header.find(')', v) - v + 1);
  size_t end = v;
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  std::string value = header.substr(v, end - v);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  if (value.size() >= 2 && value.front() == '\'') value = value.substr(1, value.size() - 2);
  return value;
}

// "<path>: <what>: <OS reason>"; kNotFound when the file (or its folder) does not exist.
Status os_failure(const std::string& path, const std::string& what) {
  const int error = errno;
  const std::string reason = error != 0 ? std::strerror(error) : "unknown reason";
  return Status(error == ENOENT ? StatusCode::kNotFound : StatusCode::kIo, path + ": " + what + ": " + reason);
}

}  // namespace

Result<NpyArray> read_npy(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return os_failure(path, "cannot open");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) return bad(path, "not a .npy file");
  const uint8_t major = bytes[6];
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    offset = 10;
  } else if ((major == 2 || major == 3) && bytes.size() >= 12) {
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (static_cast<size_t>(bytes[11]) << 24);
    offset = 12;
  } else {
    return bad(path, "unsupported .npy version " + std::to_string(major));
  }
  if (offset + header_len > bytes.size()) return bad(path, "truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(bytes.data() + offset), header_len);
  if (dict_value(header, "fortran_order") != "False") return bad(path, "Fortran-order arrays are not supported");
  const std::string descr = dict_value(header, "descr");
  const DescrInfo* info = nullptr;
  for (const DescrInfo& d : kDescrs) {
    if (descr == d.descr) info = &d;
  }
  if (info == nullptr) return bad(path, "dtype '" + descr + "' is not supported");
  NpyArray array;
  array.dtype = info->dtype;
  // "(2, 8)", "(3,)" or "()": non-negative decimal dims, comma-separated.
  const std::string shape = dict_value(header, "shape");
  const auto bad_shape = [&] { return bad(path, "shape '" + shape + "' is not a tuple of non-negative integers"); };
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') return bad_shape();
  uint64_t count = 1;
  bool after_dim = false;
  for (size_t i = 1; i + 1 < shape.size();) {
    const char c = shape[i];
    if (c == ' ') {
      ++i;
    } else if (c == ',' && after_dim) {
      after_dim = false, ++i;
    } else if (c >= '0' && c <= '9' && !after_dim) {
      int64_t dim = 0;
      for (; shape[i] >= '0' && shape[i] <= '9'; ++i) {
        if (__builtin_mul_overflow(dim, 10, &dim) || __builtin_add_overflow(dim, shape[i] - '0', &dim)) {
          return bad(path, "shape dimension out of range");
        }
      }
      array.shape.push_back(dim);
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count)) return bad(path, "shape overflows");
      after_dim = true;
    } else {
      return bad_shape();
    }
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(count, info->size, &nbytes)) return bad(path, "shape overflows");
  const size_t data_offset = offset + header_len;
  if (bytes.size() - data_offset != nbytes) {
    return bad(path, "payload has " + std::to_string(bytes.size() - data_offset) + " bytes, shape needs " +
                         std::to_string(nbytes));
  }
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_offset), bytes.end());
  return array;
}

Status write_npy(const std::string& path, const NpyArray& array) {
  const DescrInfo* info = nullptr;
  for (const DescrInfo& d : kDescrs) {
    if (d.dtype == array.dtype) info = &d;
  }
  if (info == nullptr)
    return Status(StatusCode::kNotSupported, path + ": no .npy dtype for scalar type " + std::to_string(array.dtype));
  std::string shape = "(";
  for (size_t i = 0; i < array.shape.size(); ++i)
    shape += std::to_string(array.shape[i]) + (array.shape.size() == 1 ? "," : i + 1 < array.shape.size() ? ", " : "");
  shape += ")";
  std::string header =
      "{'descr': '" + std::string(info->descr) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  const std::string temp = path + ".tmp";
  {
    errno = 0;
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return os_failure(temp, "cannot create");
    const uint16_t len = static_cast<uint16_t>(header.size());
    out.write("\x93NUMPY\x01\x00", 8);
    out.put(static_cast<char>(len & 0xff)).put(static_cast<char>(len >> 8));
    out << header;
    out.write(reinterpret_cast<const char*>(array.data.data()), static_cast<std::streamsize>(array.data.size()));
    if (!out) return os_failure(temp, "write failed");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) return os_failure(path, "cannot rename " + temp + " to it");
  return Status::success();
}

}  // namespace etp
