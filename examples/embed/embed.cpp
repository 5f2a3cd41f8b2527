// Embedding etp: open a bundle, load a model's method, run it on tensors from memory.
// Usage: etp_embed MANIFEST MODEL   (inputs are zeros of the method's declared shapes)
#include <cstdio>
#include <vector>

#include "etp/etp.h"

int main(int argc, char** argv) {
  if (argc != 3) return std::fprintf(stderr, "usage: %s MANIFEST MODEL\n", argv[0]), 2;
  auto bundle = etp::Bundle::open(argv[1]);
  if (!bundle.ok()) return std::fprintf(stderr, "%s\n", bundle.status().to_string().c_str()), 1;
  auto method = bundle->load_method(argv[2]);  // the model's default method
  if (!method.ok()) return std::fprintf(stderr, "%s\n", method.status().to_string().c_str()), 1;
  std::vector<std::vector<uint8_t>> buffers;  // one zero-filled input per declared input
  std::vector<etp::TensorRef> inputs;
  for (const etp::ValueInfo& in : method->info().inputs) {
    buffers.emplace_back(in.tensor.nbytes());
    inputs.push_back({in.tensor.dtype, in.tensor.sizes, buffers.back().data(), buffers.back().size()});
  }
  auto outputs = method->run(inputs);
  if (!outputs.ok()) return std::fprintf(stderr, "%s\n", outputs.status().to_string().c_str()), 1;
  for (const etp::Tensor& t : *outputs)
    std::printf("%s, %lld elements, first %g\n", etp::dtype_name(t.dtype), static_cast<long long>(t.numel()),
                t.value(0));
  return 0;
}
