#include "format/scalar_type.h"

namespace etp::format {
namespace {

struct ScalarTypeInfo {
  const char* name;
  uint8_t size;
};

// Indexed by the ScalarType value. Values 8-10 (complex) and 18-21 (bits) are commented out
// of the schema but the ExecuTorch runtime knows them, so we do too.
constexpr ScalarTypeInfo kScalarTypes[] = {
    {"uint8", 1},          {"int8", 1},          {"int16", 2},         {"int32", 4},
    {"int64", 8},          {"float16", 2},       {"float32", 4},       {"float64", 8},
    {"complex32", 4},      {"complex64", 8},     {"complex128", 16},   {"bool", 1},
    {"qint8", 1},          {"quint8", 1},        {"qint32", 4},        {"bfloat16", 2},
    {"quint4x2", 1},       {"quint2x4", 1},      {"bits1x8", 1},       {"bits2x4", 1},
    {"bits4x2", 1},        {"bits8", 1},         {"bits16", 2},        {"float8_e5m2", 1},
    {"float8_e4m3fn", 1},  {"float8_e5m2fnuz", 1}, {"float8_e4m3fnuz", 1}, {"uint16", 2},
    {"uint32", 4},         {"uint64", 8},
};
constexpr int kNumScalarTypes = sizeof(kScalarTypes) / sizeof(kScalarTypes[0]);

}  // namespace

size_t scalar_type_size(int value) {
  return value >= 0 && value < kNumScalarTypes ? kScalarTypes[value].size : 0;
}

const char* scalar_type_name(int value) {
  return value >= 0 && value < kNumScalarTypes ? kScalarTypes[value].name : "invalid";
}

}  // namespace etp::format
