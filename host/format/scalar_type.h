// Facts about ExecuTorch scalar types (schema/scalar_type.fbs): names and element sizes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace etp::format {

// Element size in bytes of ScalarType `value`, or 0 when the value is not a scalar type
// this runtime knows. Sub-byte packed types (QUINT4X2, QUINT2X4) count as 1 byte, as in
// ExecuTorch.
size_t scalar_type_size(int value);

// Lower-case name such as "float32" or "int64"; "invalid(N)"-style callers should check
// scalar_type_size() first. Never returns null.
const char* scalar_type_name(int value);

}  // namespace etp::format
