// Binary element-wise operators with broadcasting and PyTorch type promotion, following
// ExecuTorch's portable semantics: the result is computed in the promoted ("common") dtype
// and stored into any output dtype the common dtype can be cast to.
#include <cmath>

#include "kernels.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

// Which dtype categories an operator's common dtype may have.
enum Allow : unsigned { kBool = 1, kInt = 2, kFloat = 4, kAll = 7, kNumeric = 6, kIntegral = 3 };

bool allowed(unsigned mask, int32_t dtype) {
  const int cat = dtype_category(dtype);
  return (mask >> cat) & 1u;
}

// Checks operand dtypes against `mask` and the output cast, then runs binary_map in `common`.
template <typename Op>
etp_status arith(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common, unsigned mask,
                 Op op) {
  if (!check_supported(c, a, "input") || !check_supported(c, b, "input") || !check_supported(c, *out, "output")) {
    return ETP_ERR_DTYPE;
  }
  if (!allowed(mask, common)) return dtype_error(c, "common", common);
  if (!can_cast(common, out->dtype)) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: result dtype %s cannot be cast to output dtype %s", c.op,
                etp_sdk::dtype_name(common), etp_sdk::dtype_name(out->dtype));
  }
  return binary_map(c, a, b, out, common, op);
}

// Reads (Tensor self, Tensor other, ..., Tensor out) with `n` arguments including the return slot.
bool read_tensor_tensor(const Ctx& c, uint32_t n, etp_tensor** a, etp_tensor** b, etp_tensor** out) {
  if (expect_args(c, n) != ETP_OK) return false;
  return tensor_arg(c, 0, a) && tensor_arg(c, 1, b) && tensor_arg(c, n - 2, out);
}
// Reads (Tensor self, Scalar other, ..., Tensor out).
bool read_tensor_scalar(const Ctx& c, uint32_t n, etp_tensor** a, Scalar* b, etp_tensor** out) {
  if (expect_args(c, n) != ETP_OK) return false;
  return tensor_arg(c, 0, a) && read_scalar(c, 1, b) && tensor_arg(c, n - 2, out);
}

// Reads (Tensor self, Tensor|Scalar other, ..., Tensor out) with `n` arguments including the
// return slot, then returns fn(c, a, b, out, common, extra...): a Scalar `other` is wrapped as
// a 0-dim tensor and `common` is the promoted dtype of the operands.
template <typename F, typename... Extra>
etp_status with_operands(const Ctx& c, uint32_t n, bool scalar_other, F&& fn, Extra... extra) {
  etp_tensor *a, *out;
  if (scalar_other) {
    Scalar s;
    if (!read_tensor_scalar(c, n, &a, &s, &out)) return ETP_ERR_INVALID_ARGUMENT;
    ScalarTensor bt(s);
    return fn(c, *a, bt.tensor, out, promote_with_scalar(a->dtype, s), extra...);
  }
  etp_tensor* b;
  if (!read_tensor_tensor(c, n, &a, &b, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return fn(c, *a, *b, out, promote_types(a->dtype, b->dtype), extra...);
}
// A (self, other, out) kernel that is `arith` with a fixed dtype mask and op.
template <typename Op>
etp_status arith_kernel(const Ctx& c, bool scalar_other, unsigned mask, Op op) {
  return with_operands(c, 4, scalar_other,
                       [mask, op](const Ctx& cx, const etp_tensor& a, const etp_tensor& b, etp_tensor* out,
                                  int32_t common) { return arith(cx, a, b, out, common, mask, op); });
}

// PyTorch rejects a floating alpha for integer or bool results.
bool check_alpha(const Ctx& c, const Scalar& alpha, int32_t common) {
  if (alpha.tag == ETP_VALUE_DOUBLE && !is_float_dtype(common)) {
    fail(c.host, ETP_ERR_DTYPE, "%s: a floating-point alpha needs a floating-point result, not %s", c.op,
         etp_sdk::dtype_name(common));
    return false;
  }
  return true;
}

// x - floor-division helpers shared by div(floor), floor_divide and remainder. Integer
// division by zero sets *bad instead of trapping.
template <typename C>
C floor_div(C x, C y, bool* bad) {
  if constexpr (std::is_floating_point_v<C>) {
    if (y == 0) return x / y;
    const C mod = std::fmod(x, y);
    C div = (x - mod) / y;
    if (mod != 0 && ((y < 0) != (mod < 0))) div -= 1;
    if (div == 0) return std::copysign(C(0), x / y);
    C floored = std::floor(div);
    if (div - floored > C(0.5)) floored += 1;
    return floored;
  } else if constexpr (std::is_same_v<C, bool>) {
    if (!y) *bad = true;
    return x;
  } else {
    if (y == 0) {
      *bad = true;
      return 0;
    }
    if (y == -1) return wrap_neg(x);
    C q = x / y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
    return q;
  }
}
template <typename C>
C trunc_div(C x, C y, bool* bad) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::trunc(x / y);
  } else if constexpr (std::is_same_v<C, bool>) {
    if (!y) *bad = true;
    return x;
  } else {
    if (y == 0) {
      *bad = true;
      return 0;
    }
    return y == -1 ? wrap_neg(x) : static_cast<C>(x / y);
  }
}
template <typename C>
C python_mod(C x, C y, bool* bad) {
  if constexpr (std::is_floating_point_v<C>) {
    C r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
  } else if constexpr (std::is_same_v<C, bool>) {
    if (!y) *bad = true;
    return false;
  } else {
    if (y == 0) {
      *bad = true;
      return 0;
    }
    if (y == -1) return 0;
    C r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
  }
}
template <typename C>
C c_fmod(C x, C y, bool* bad) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::fmod(x, y);
  } else if constexpr (std::is_same_v<C, bool>) {
    if (!y) *bad = true;
    return false;
  } else {
    if (y == 0) {
      *bad = true;
      return 0;
    }
    return y == -1 ? 0 : static_cast<C>(x % y);
  }
}
// Integer power by squaring (wrapping); a negative exponent sets *bad.
template <typename C>
C int_pow(C base, C exp, bool* bad) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::pow(base, exp);
  } else if constexpr (std::is_same_v<C, bool>) {
    return base || !exp;
  } else {
    if (exp < 0) {
      // PyTorch allows 1 and -1 to negative powers; everything else is an error.
      if (base == 1) return 1;
      if (base == -1) return (exp % 2 == 0) ? 1 : -1;
      *bad = true;
      return 0;
    }
    C result = 1;
    while (exp > 0) {
      if (exp & 1) result = wrap_mul(result, base);
      base = wrap_mul(base, base);
      exp >>= 1;
    }
    return result;
  }
}

etp_status division_by_zero(const Ctx& c) {
  return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: integer division by zero", c.op);
}

// ---------------------------------------------------------------------------------------------
// add, sub, rsub, mul

// self + alpha * other (or minus), alpha read from argument 2.
etp_status add_like(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common,
                    bool subtract) {
  Scalar alpha;
  if (!read_scalar(c, 2, &alpha)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_alpha(c, alpha, common)) return ETP_ERR_DTYPE;
  if (subtract && common == ETP_DTYPE_BOOL) {
    return dtype_error(c, "common", common, "subtraction of bools; use logical_xor");
  }
  return arith(c, a, b, out, common, kAll, [alpha, subtract](auto x, auto y) {
    using C = decltype(x);
    const C scaled = wrap_mul(alpha.as<C>(), y);
    return subtract ? wrap_sub(x, scaled) : wrap_add(x, scaled);
  });
}

// aten::add.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out)
ETP_PORTABLE_KERNEL(add_out, "aten::add.out") { return with_operands(c, 5, false, add_like, /*subtract=*/false); }

// aten::add.Scalar_out(Tensor self, Scalar other, Scalar alpha=1, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(add_scalar_out, "aten::add.Scalar_out") {
  return with_operands(c, 5, true, add_like, /*subtract=*/false);
}

// aten::sub.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out)
ETP_PORTABLE_KERNEL(sub_out, "aten::sub.out") { return with_operands(c, 5, false, add_like, /*subtract=*/true); }

// aten::sub.Scalar_out(Tensor self, Scalar other, Scalar alpha=1, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(sub_scalar_out, "aten::sub.Scalar_out") {
  return with_operands(c, 5, true, add_like, /*subtract=*/true);
}

// aten::rsub.Scalar_out(Tensor self, Scalar other, Scalar alpha=1, *, Tensor(a!) out): other - alpha * self
ETP_PORTABLE_KERNEL(rsub_scalar_out, "aten::rsub.Scalar_out") {
  return with_operands(
      c, 5, true,
      [](const Ctx& cx, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common) -> etp_status {
        Scalar alpha;
        if (!read_scalar(cx, 2, &alpha)) return ETP_ERR_INVALID_ARGUMENT;
        if (!check_alpha(cx, alpha, common)) return ETP_ERR_DTYPE;
        return arith(cx, b, a, out, common, kNumeric,
                     [alpha](auto x, auto y) { return wrap_sub(x, wrap_mul(alpha.as<decltype(x)>(), y)); });
      });
}

constexpr auto kMul = [](auto x, auto y) { return wrap_mul(x, y); };

// aten::mul.out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(mul_out, "aten::mul.out") { return arith_kernel(c, false, kAll, kMul); }

// aten::mul.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(mul_scalar_out, "aten::mul.Scalar_out") { return arith_kernel(c, true, kAll, kMul); }

// ---------------------------------------------------------------------------------------------
// div, floor_divide, remainder, fmod, pow

// True division: integer and bool operands divide in float32.
etp_status true_div(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common) {
  if (!is_float_dtype(common)) common = ETP_DTYPE_FLOAT32;
  return arith(c, a, b, out, common, kFloat, [](auto x, auto y) { return x / y; });
}

// Rounded division ("trunc"/"floor") stays in the common dtype; integers reject zero divisors.
etp_status rounded_div(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common,
                       bool floor_mode) {
  bool bad = false;
  etp_status s = arith(c, a, b, out, common, kNumeric, [&bad, floor_mode](auto x, auto y) {
    return floor_mode ? floor_div(x, y, &bad) : trunc_div(x, y, &bad);
  });
  return s == ETP_OK && bad ? division_by_zero(c) : s;
}

// aten::div.out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(div_out, "aten::div.out") { return with_operands(c, 4, false, true_div); }

// The rounding_mode argument (index 2) of div.out_mode picks the division.
etp_status div_mode(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common) {
  const etp_value& mode = *c.args[2];
  if (mode.tag == ETP_VALUE_NONE) return true_div(c, a, b, out, common);
  if (string_equals(mode, "trunc")) return rounded_div(c, a, b, out, common, /*floor_mode=*/false);
  if (string_equals(mode, "floor")) return rounded_div(c, a, b, out, common, /*floor_mode=*/true);
  return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: rounding_mode must be None, \"trunc\" or \"floor\"", c.op);
}

// aten::div.out_mode(Tensor self, Tensor other, *, str? rounding_mode, Tensor(a!) out)
ETP_PORTABLE_KERNEL(div_out_mode, "aten::div.out_mode") { return with_operands(c, 5, false, div_mode); }

// aten::div.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(div_scalar_out, "aten::div.Scalar_out") { return with_operands(c, 4, true, true_div); }

// aten::floor_divide.out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(floor_divide_out, "aten::floor_divide.out") {
  return with_operands(c, 4, false, rounded_div, /*floor_mode=*/true);
}

// Python-style remainder (sign of the divisor) or C fmod (sign of the dividend).
etp_status modulo(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common,
                  bool python) {
  bool bad = false;
  etp_status s = arith(c, a, b, out, common, kNumeric,
                       [&bad, python](auto x, auto y) { return python ? python_mod(x, y, &bad) : c_fmod(x, y, &bad); });
  return s == ETP_OK && bad ? division_by_zero(c) : s;
}

// aten::remainder.Tensor_out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(remainder_tensor_out, "aten::remainder.Tensor_out") {
  return with_operands(c, 4, false, modulo, /*python=*/true);
}

// aten::remainder.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(remainder_scalar_out, "aten::remainder.Scalar_out") {
  return with_operands(c, 4, true, modulo, /*python=*/true);
}

// aten::fmod.Tensor_out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(fmod_tensor_out, "aten::fmod.Tensor_out") {
  return with_operands(c, 4, false, modulo, /*python=*/false);
}

// aten::fmod.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(fmod_scalar_out, "aten::fmod.Scalar_out") {
  return with_operands(c, 4, true, modulo, /*python=*/false);
}

// aten::div.Scalar_mode_out(Tensor self, Scalar other, *, str? rounding_mode, Tensor(a!) out)
ETP_PORTABLE_KERNEL(div_scalar_mode_out, "aten::div.Scalar_mode_out") { return with_operands(c, 5, true, div_mode); }

// aten::atan2.out(Tensor self, Tensor other, *, Tensor(a!) out): floating output; integer and
// bool operands compute in float32, like true division.
ETP_PORTABLE_KERNEL(atan2_out, "aten::atan2.out") {
  return with_operands(c, 4, false,
                       [](const Ctx& cx, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common) {
                         if (!is_float_dtype(common)) common = ETP_DTYPE_FLOAT32;
                         return arith(cx, a, b, out, common, kFloat, [](auto y, auto x) { return std::atan2(y, x); });
                       });
}

etp_status power(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common) {
  bool bad = false;
  etp_status s = arith(c, a, b, out, common, kNumeric, [&bad](auto x, auto y) { return int_pow(x, y, &bad); });
  if (s == ETP_OK && bad) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: integers to negative integer powers are not allowed", c.op);
  }
  return s;
}

// aten::pow.Tensor_Tensor_out(Tensor self, Tensor exponent, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(pow_tensor_tensor_out, "aten::pow.Tensor_Tensor_out") { return with_operands(c, 4, false, power); }

// aten::pow.Tensor_Scalar_out(Tensor self, Scalar exponent, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(pow_tensor_scalar_out, "aten::pow.Tensor_Scalar_out") { return with_operands(c, 4, true, power); }

// aten::pow.Scalar_out(Scalar self, Tensor exponent, *, Tensor(a!) out): a scalar base.
ETP_PORTABLE_KERNEL(pow_scalar_out, "aten::pow.Scalar_out") {
  Scalar base;
  etp_tensor *exponent, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!read_scalar(c, 0, &base) || !tensor_arg(c, 1, &exponent) || !tensor_arg(c, 2, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  ScalarTensor a(base);
  return power(c, a.tensor, *exponent, out, promote_with_scalar(exponent->dtype, base));
}

// ---------------------------------------------------------------------------------------------
// maximum, minimum, bitwise, logical

// aten::maximum.out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(maximum_out, "aten::maximum.out") {
  return arith_kernel(c, false, kAll, [](auto x, auto y) { return nan_max(x, y); });
}

// aten::minimum.out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(minimum_out, "aten::minimum.out") {
  return arith_kernel(c, false, kAll, [](auto x, auto y) { return nan_min(x, y); });
}

template <typename C, typename Op>
C bitwise(C x, C y, Op op) {
  if constexpr (std::is_floating_point_v<C>) {
    return C{};  // unreachable: floats are rejected before the loop
  } else {
    return static_cast<C>(op(x, y));
  }
}

// aten::bitwise_and.Tensor_out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(bitwise_and_out, "aten::bitwise_and.Tensor_out") {
  return arith_kernel(c, false, kIntegral,
                      [](auto x, auto y) { return bitwise(x, y, [](auto p, auto q) { return p & q; }); });
}

// aten::bitwise_or.Tensor_out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(bitwise_or_out, "aten::bitwise_or.Tensor_out") {
  return arith_kernel(c, false, kIntegral,
                      [](auto x, auto y) { return bitwise(x, y, [](auto p, auto q) { return p | q; }); });
}

// aten::bitwise_xor.Tensor_out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(bitwise_xor_out, "aten::bitwise_xor.Tensor_out") {
  return arith_kernel(c, false, kIntegral,
                      [](auto x, auto y) { return bitwise(x, y, [](auto p, auto q) { return p ^ q; }); });
}

// aten::bitwise_{and,or,xor}.Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(bitwise_and_scalar_out, "aten::bitwise_and.Scalar_out") {
  return arith_kernel(c, true, kIntegral,
                      [](auto x, auto y) { return bitwise(x, y, [](auto p, auto q) { return p & q; }); });
}
ETP_PORTABLE_KERNEL(bitwise_or_scalar_out, "aten::bitwise_or.Scalar_out") {
  return arith_kernel(c, true, kIntegral,
                      [](auto x, auto y) { return bitwise(x, y, [](auto p, auto q) { return p | q; }); });
}
ETP_PORTABLE_KERNEL(bitwise_xor_scalar_out, "aten::bitwise_xor.Scalar_out") {
  return arith_kernel(c, true, kIntegral,
                      [](auto x, auto y) { return bitwise(x, y, [](auto p, auto q) { return p ^ q; }); });
}

// Shifts with PyTorch's answers where C++ would be undefined: a count below 0 or at least the
// width shifts everything out (left: 0; right: 0, or -1 for a negative signed value), and a left
// shift works on the unsigned bits, so negative values shift without overflow. (ExecuTorch's
// kernels shift raw, which C++ leaves undefined there.) Bool computes as 0/1.
template <typename C>
C shift_left(C x, C y) {
  if constexpr (std::is_floating_point_v<C> || !std::is_integral_v<C>) {
    return C{};  // unreachable: non-integral dtypes are rejected before the loop
  } else if constexpr (std::is_same_v<C, bool>) {
    return x && !y;
  } else {
    using U = std::make_unsigned_t<C>;
    constexpr int64_t bits = sizeof(C) * 8;
    const int64_t n = static_cast<int64_t>(y);
    return n < 0 || n >= bits ? C{0} : static_cast<C>(static_cast<U>(static_cast<U>(x) << n));
  }
}
template <typename C>
C shift_right(C x, C y) {
  if constexpr (std::is_floating_point_v<C> || !std::is_integral_v<C>) {
    return C{};
  } else if constexpr (std::is_same_v<C, bool>) {
    return x && !y;
  } else {
    constexpr int64_t bits = sizeof(C) * 8;
    const int64_t n = static_cast<int64_t>(y);
    if (n < 0 || n >= bits) return std::is_signed_v<C> && x < 0 ? static_cast<C>(-1) : C{0};
    return static_cast<C>(x >> n);  // arithmetic for signed values (C++20 and every compiler etp supports)
  }
}

// aten::bitwise_{left,right}_shift.Tensor_out(Tensor self, Tensor other, *, Tensor(a!) out) and
// .Tensor_Scalar_out(Tensor self, Scalar other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(bitwise_left_shift_out, "aten::bitwise_left_shift.Tensor_out") {
  return arith_kernel(c, false, kIntegral, [](auto x, auto y) { return shift_left(x, y); });
}
ETP_PORTABLE_KERNEL(bitwise_left_shift_scalar_out, "aten::bitwise_left_shift.Tensor_Scalar_out") {
  return arith_kernel(c, true, kIntegral, [](auto x, auto y) { return shift_left(x, y); });
}
ETP_PORTABLE_KERNEL(bitwise_right_shift_out, "aten::bitwise_right_shift.Tensor_out") {
  return arith_kernel(c, false, kIntegral, [](auto x, auto y) { return shift_right(x, y); });
}
ETP_PORTABLE_KERNEL(bitwise_right_shift_scalar_out, "aten::bitwise_right_shift.Tensor_Scalar_out") {
  return arith_kernel(c, true, kIntegral, [](auto x, auto y) { return shift_right(x, y); });
}

// Logical ops read every dtype as truth values and write 0/1 into any output dtype.
template <typename Op>
etp_status logical(const Ctx& c, Op op) {
  etp_tensor *a, *b, *out;
  if (!read_tensor_tensor(c, 4, &a, &b, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_supported(c, *a, "input") || !check_supported(c, *b, "input") || !check_supported(c, *out, "output")) {
    return ETP_ERR_DTYPE;
  }
  return binary_map(c, *a, *b, out, ETP_DTYPE_BOOL, op);
}

// aten::logical_and.out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(logical_and_out, "aten::logical_and.out") {
  return logical(c, [](auto x, auto y) { return static_cast<bool>(x) && static_cast<bool>(y); });
}

// aten::logical_or.out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(logical_or_out, "aten::logical_or.out") {
  return logical(c, [](auto x, auto y) { return static_cast<bool>(x) || static_cast<bool>(y); });
}

// aten::logical_xor.out(Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(logical_xor_out, "aten::logical_xor.out") {
  return logical(c, [](auto x, auto y) { return static_cast<bool>(x) != static_cast<bool>(y); });
}

}  // namespace

ETP_KERNEL_FAMILY(elementwise_kernels, ETP_ENTRY(bitwise_left_shift_out), ETP_ENTRY(bitwise_left_shift_scalar_out),
                  ETP_ENTRY(bitwise_right_shift_out), ETP_ENTRY(bitwise_right_shift_scalar_out), ETP_ENTRY(add_out),
                  ETP_ENTRY(add_scalar_out), ETP_ENTRY(sub_out), ETP_ENTRY(sub_scalar_out), ETP_ENTRY(rsub_scalar_out),
                  ETP_ENTRY(mul_out), ETP_ENTRY(mul_scalar_out), ETP_ENTRY(div_out), ETP_ENTRY(div_out_mode),
                  ETP_ENTRY(div_scalar_out), ETP_ENTRY(floor_divide_out), ETP_ENTRY(remainder_tensor_out),
                  ETP_ENTRY(remainder_scalar_out), ETP_ENTRY(fmod_tensor_out), ETP_ENTRY(pow_tensor_tensor_out),
                  ETP_ENTRY(pow_tensor_scalar_out), ETP_ENTRY(maximum_out), ETP_ENTRY(minimum_out),
                  ETP_ENTRY(bitwise_and_out), ETP_ENTRY(bitwise_or_out), ETP_ENTRY(logical_and_out),
                  ETP_ENTRY(logical_or_out), ETP_ENTRY(fmod_scalar_out), ETP_ENTRY(div_scalar_mode_out),
                  ETP_ENTRY(atan2_out), ETP_ENTRY(pow_scalar_out), ETP_ENTRY(bitwise_xor_out),
                  ETP_ENTRY(bitwise_and_scalar_out), ETP_ENTRY(bitwise_or_scalar_out),
                  ETP_ENTRY(bitwise_xor_scalar_out), ETP_ENTRY(logical_xor_out))

}  // namespace etp_portable
