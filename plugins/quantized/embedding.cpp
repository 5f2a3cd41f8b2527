// quantized_decomposed::embedding_byte, embedding_2bit and embedding_4bit: a lookup in a quantized
// table, dequantized per row or per group of columns, with ExecuTorch's arithmetic:
// out = T((float(w) - float(zero_point)) * float(scale)). The table is [rows, packed columns]:
// one byte per value (uint8 or int8) for embedding_byte; for the sub-byte forms uint8 bytes holding
// 4 two-bit values (value + 2, lowest bits first) or 2 four-bit values (value + 8, high nibble
// first). Scales (and optional zero points) are [rows] or [rows, groups]; the groups split each
// row evenly. The .out forms read scales and zero points as the output's type, so they must have
// it; the .dtype_out forms take any of float32, float16 and bfloat16 for scales and for out.
// Unlike ExecuTorch, every index is checked against the table for every form.
#include "kernel_util.h"
#include "quantized.h"

namespace etp_quantized {
namespace {

using namespace etp_portable;

// The value at column `j` of a packed row of `bits`-bit values (8, 4 or 2).
inline int32_t packed_value(const uint8_t* row, int64_t j, int bits) {
  if (bits == 4) {
    const uint8_t byte = row[j >> 1];
    return static_cast<int32_t>((j & 1) ? (byte & 0x0F) : (byte >> 4)) - 8;
  }
  const uint8_t byte = row[j >> 2];
  return static_cast<int32_t>((byte >> (2 * (j & 3))) & 3) - 2;
}

struct EmbeddingArgs {
  etp_tensor *weight = nullptr, *scales = nullptr, *zero_points = nullptr, *indices = nullptr, *out = nullptr;
  int64_t columns = 0;  // embedding dim (unpacked)
  int64_t groups = 1;
};

etp_status check(const Ctx& c, int bits, bool dtype_form, EmbeddingArgs* e) {
  int64_t qmin = 0, qmax = 0;
  const uint32_t out_i = dtype_form ? 7 : 6;
  if (etp_status s = expect_args(c, out_i + 2)) return s;
  if (!tensor_arg(c, 0, &e->weight) || !tensor_arg(c, 1, &e->scales) || !optional_tensor_arg(c, 2, &e->zero_points) ||
      !int_arg(c, 3, &qmin) || !int_arg(c, 4, &qmax) || !tensor_arg(c, 5, &e->indices) || !tensor_arg(c, out_i, &e->out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  const etp_tensor &w = *e->weight, &sc = *e->scales, &idx = *e->indices, &out = *e->out;
  if (qmin > qmax) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: weight_quant_min %lld is above weight_quant_max %lld", c.op,
                static_cast<long long>(qmin), static_cast<long long>(qmax));
  }
  if (dtype_form) {
    bool has_dtype = false;
    int64_t dtype = 0;
    if (!optional_int_arg(c, 6, &has_dtype, &dtype)) return ETP_ERR_INVALID_ARGUMENT;
    if (has_dtype && dtype != out.dtype) {
      return fail(c.host, ETP_ERR_DTYPE, "%s: dtype %s differs from the output's %s", c.op,
                  etp_sdk::dtype_name(static_cast<int32_t>(dtype)), etp_sdk::dtype_name(out.dtype));
    }
  }
  const bool weight_ok = w.dtype == ETP_DTYPE_UINT8 || (bits == 8 && w.dtype == ETP_DTYPE_INT8);
  if (w.rank != 2 || !weight_ok) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: weight must be a 2-D %s tensor, got %s of rank %d", c.op,
                bits == 8 ? "uint8 or int8" : "uint8", etp_sdk::dtype_name(w.dtype), w.rank);
  }
  if (__builtin_mul_overflow(w.sizes[1], int64_t{8 / bits}, &e->columns)) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: weight has too many columns", c.op);
  }
  if ((sc.rank != 1 && sc.rank != 2) || sc.sizes[0] != w.sizes[0]) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: weight_scales must be [%lld] or [%lld, groups]", c.op,
                static_cast<long long>(w.sizes[0]), static_cast<long long>(w.sizes[0]));
  }
  if (sc.rank == 2) {
    e->groups = sc.sizes[1];
    if (e->groups <= 0 || e->columns % e->groups != 0) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: %lld groups do not divide the embedding dim %lld", c.op,
                  static_cast<long long>(e->groups), static_cast<long long>(e->columns));
    }
  }
  if (!dtype_form && sc.dtype != out.dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: weight_scales has dtype %s but out has %s (this form reads both as one type)",
                c.op, etp_sdk::dtype_name(sc.dtype), etp_sdk::dtype_name(out.dtype));
  }
  if (const etp_tensor* zp = e->zero_points) {
    bool same = zp->rank == sc.rank;
    for (int32_t d = 0; same && d < sc.rank; ++d) same = zp->sizes[d] == sc.sizes[d];
    if (!same) return fail(c.host, ETP_ERR_SHAPE, "%s: weight_zero_points must have weight_scales' shape", c.op);
    if (zp->dtype != out.dtype || zp->dtype != sc.dtype) {
      return fail(c.host, ETP_ERR_DTYPE, "%s: weight_zero_points has dtype %s, expected %s like weight_scales and out",
                  c.op, etp_sdk::dtype_name(zp->dtype), etp_sdk::dtype_name(sc.dtype));
    }
    if (etp_status s = check_row_major(c, *zp, "weight_zero_points")) return s;
  }
  const bool index_ok = idx.dtype == ETP_DTYPE_INT64 || (bits != 8 && idx.dtype == ETP_DTYPE_INT32);
  if (!index_ok) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: indices have dtype %s, expected int64%s", c.op,
                etp_sdk::dtype_name(idx.dtype), bits == 8 ? "" : " or int32");
  }
  if (idx.rank + 1 > ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: indices have too many dims", c.op);
  int64_t sizes[ETP_MAX_RANK];
  for (int32_t d = 0; d < idx.rank; ++d) sizes[d] = idx.sizes[d];
  sizes[idx.rank] = e->columns;
  if (etp_status s = resize_out(c, e->out, idx.rank + 1, sizes)) return s;
  if (etp_status s = check_row_major(c, w, "weight")) return s;
  if (etp_status s = check_row_major(c, sc, "weight_scales")) return s;
  if (etp_status s = check_row_major(c, idx, "indices")) return s;
  return check_row_major(c, out, "out");
}

template <typename P, typename O, typename I>
etp_status lookup(const Ctx& c, const EmbeddingArgs& e, int bits) {
  const int64_t rows = e.weight->sizes[0], packed = e.weight->sizes[1], n = etp_sdk::numel(*e.indices);
  const int64_t group_size = e.columns / e.groups;
  const I* indices = static_cast<const I*>(e.indices->data);
  const P* scales = static_cast<const P*>(e.scales->data);
  const P* zero_points = e.zero_points ? static_cast<const P*>(e.zero_points->data) : nullptr;
  O* out = static_cast<O*>(e.out->data);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t index = static_cast<int64_t>(indices[i]);
    if (index < 0 || index >= rows) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: index %lld is out of range for a table of %lld rows", c.op,
                  static_cast<long long>(index), static_cast<long long>(rows));
    }
    const P* scale = scales + index * e.groups;
    const P* zero_point = zero_points ? zero_points + index * e.groups : nullptr;
    const uint8_t* row = static_cast<const uint8_t*>(e.weight->data) + index * packed;
    O* o = out + i * e.columns;
    for (int64_t j = 0; j < e.columns; ++j) {
      const int64_t g = j / group_size;
      float w = 0;
      if (bits == 8) {
        w = e.weight->dtype == ETP_DTYPE_INT8 ? static_cast<float>(static_cast<int8_t>(row[j])) : static_cast<float>(row[j]);
      } else {
        w = static_cast<float>(packed_value(row, j, bits));
      }
      const float zp = zero_point ? static_cast<float>(zero_point[g]) : 0.0f;
      o[j] = static_cast<O>((w - zp) * static_cast<float>(scale[g]));
    }
  }
  return ETP_OK;
}

etp_status embedding(const Ctx& c, int bits, bool dtype_form) {
  EmbeddingArgs e;
  if (etp_status s = check(c, bits, dtype_form, &e)) return s;
  return dispatch_low_float<true>(c, e.scales->dtype, "weight_scales", [&](auto pzero) {
    using P = decltype(pzero);
    return dispatch_low_float<true>(c, e.out->dtype, "out", [&](auto ozero) {
      using O = decltype(ozero);
      return e.indices->dtype == ETP_DTYPE_INT32 ? lookup<P, O, int32_t>(c, e, bits) : lookup<P, O, int64_t>(c, e, bits);
    });
  });
}

// quantized_decomposed::embedding_byte.out(Tensor weight, Tensor weight_scales, Tensor? weight_zero_points,
//     int weight_quant_min, int weight_quant_max, Tensor indices, *, Tensor(a!) out), and the others alike;
// the .dtype_out forms add `ScalarType? dtype` before out.
ETP_PORTABLE_KERNEL(embedding_byte_out, "quantized_decomposed::embedding_byte.out") { return embedding(c, 8, false); }
ETP_PORTABLE_KERNEL(embedding_byte_dtype_out, "quantized_decomposed::embedding_byte.dtype_out") {
  return embedding(c, 8, true);
}
ETP_PORTABLE_KERNEL(embedding_2bit_out, "quantized_decomposed::embedding_2bit.out") { return embedding(c, 2, false); }
ETP_PORTABLE_KERNEL(embedding_2bit_dtype_out, "quantized_decomposed::embedding_2bit.dtype_out") {
  return embedding(c, 2, true);
}
ETP_PORTABLE_KERNEL(embedding_4bit_out, "quantized_decomposed::embedding_4bit.out") { return embedding(c, 4, false); }
ETP_PORTABLE_KERNEL(embedding_4bit_dtype_out, "quantized_decomposed::embedding_4bit.dtype_out") {
  return embedding(c, 4, true);
}

}  // namespace

ETP_KERNEL_FAMILY(embedding_kernels, ETP_ENTRY(embedding_byte_out), ETP_ENTRY(embedding_byte_dtype_out),
                  ETP_ENTRY(embedding_2bit_out), ETP_ENTRY(embedding_2bit_dtype_out), ETP_ENTRY(embedding_4bit_out),
                  ETP_ENTRY(embedding_4bit_dtype_out))

}  // namespace etp_quantized
