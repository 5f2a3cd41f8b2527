// Random operators: rand, randn and native_dropout. The plugin has one generator, a
// std::mt19937_64 shared by every kernel call (under a lock, so methods on several threads may
// draw at once). Like ExecuTorch's portable kernels it is seeded from std::random_device; the
// plugin option `seed` (manifest `options: {seed: N}`) makes runs reproducible instead. Values
// are drawn in row-major order: rand uniform in [0, 1), randn standard normal (std::
// normal_distribution), dropout keeps an element when a uniform draw is >= p.
#include <mutex>
#include <random>

#include "kernels.h"
#include "movement_util.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

using namespace movement;

std::mutex g_rng_mutex;
std::mt19937_64 g_rng{std::random_device{}()};

// Calls fill(generator) under the lock.
template <typename F>
void with_generator(F&& fill) {
  const std::lock_guard<std::mutex> lock(g_rng_mutex);
  fill(g_rng);
}

// rand.out / randn.out(SymInt[] size, *, Tensor(a!) out): out resized to `size` and filled in
// row-major order with draws of `dist`.
template <typename Dist>
etp_status random_fill(const Ctx& c, Dist dist) {
  const int64_t* sizes = nullptr;
  uint64_t rank = 0;
  etp_tensor* out;
  if (etp_status s = expect_args(c, 3)) return s;
  if (!int_list_arg(c, 0, &sizes, &rank) || !tensor_arg(c, 1, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!is_float_dtype(out->dtype)) return dtype_error(c, "output", out->dtype, "expected a floating dtype");
  if (rank > ETP_MAX_RANK)
    return fail(c.host, ETP_ERR_SHAPE, "%s: rank %llu is above %d", c.op, static_cast<unsigned long long>(rank),
                ETP_MAX_RANK);
  for (uint64_t d = 0; d < rank; ++d) {
    if (sizes[d] < 0)
      return fail(c.host, ETP_ERR_SHAPE, "%s: negative size %lld", c.op, static_cast<long long>(sizes[d]));
  }
  if (etp_status s = resize_out(c, out, static_cast<int32_t>(rank), sizes)) return s;
  with_generator([&](std::mt19937_64& rng) {
    const int64_t* strides[1] = {out->strides};
    for_each_offsets<1>(out->rank, out->sizes, strides, [&](const int64_t* o) { store(*out, o[0], dist(rng)); });
  });
  return ETP_OK;
}

ETP_PORTABLE_KERNEL(rand_out, "aten::rand.out") { return random_fill(c, std::uniform_real_distribution<double>(0, 1)); }
ETP_PORTABLE_KERNEL(randn_out, "aten::randn.out") { return random_fill(c, std::normal_distribution<double>(0, 1)); }

// aten::native_dropout.out(Tensor input, float p, bool? train, *, Tensor(a!) out0, Tensor(b!) out1):
// in training (train None or True) with p > 0, out1 is the bool keep mask and out0 the kept
// elements scaled by 1 / (1 - p) (all zeros when p == 1); otherwise out0 = input and out1 all true.
ETP_PORTABLE_KERNEL(native_dropout_out, "aten::native_dropout.out") {
  etp_tensor *in, *out, *mask;
  double p = 0;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 0, &in) || !scalar_arg(c, 1, &p) || !tensor_arg(c, 3, &out) || !tensor_arg(c, 4, &mask)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  bool train = true;
  if (c.args[2]->tag != ETP_VALUE_NONE && !bool_arg(c, 2, &train)) return ETP_ERR_INVALID_ARGUMENT;
  if (!(p >= 0 && p <= 1)) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: p must be in [0, 1], got %g", c.op, p);
  if (!is_float_dtype(in->dtype)) return dtype_error(c, "input", in->dtype, "expected a floating dtype");
  if (etp_status s = same_dtype(c, *out, in->dtype, "out0")) return s;
  if (etp_status s = same_dtype(c, *mask, ETP_DTYPE_BOOL, "out1")) return s;
  if (etp_status s = resize_out(c, out, in->rank, in->sizes, "out0")) return s;
  if (etp_status s = resize_out(c, mask, in->rank, in->sizes, "out1")) return s;
  const bool drop = train && p > 0;
  const double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
  std::uniform_real_distribution<double> uniform(0, 1);
  with_generator([&](std::mt19937_64& rng) {
    const int64_t* strides[3] = {out->strides, mask->strides, in->strides};
    for_each_offsets<3>(in->rank, in->sizes, strides, [&](const int64_t* o) {
      const bool keep = !drop || uniform(rng) >= p;
      static_cast<bool*>(mask->data)[o[1]] = keep;
      store(*out, o[0], keep ? load<double>(*in, o[2]) * (drop ? scale : 1.0) : 0.0);
    });
  });
  return ETP_OK;
}

}  // namespace

void seed_random(uint64_t seed) {
  const std::lock_guard<std::mutex> lock(g_rng_mutex);
  g_rng.seed(seed);
}

ETP_KERNEL_FAMILY(random_kernels, ETP_ENTRY(rand_out), ETP_ENTRY(randn_out), ETP_ENTRY(native_dropout_out))

}  // namespace etp_portable
