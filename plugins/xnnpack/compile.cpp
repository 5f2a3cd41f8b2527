#include "compile.h"

namespace etp_xnnpack {

bool compile_node(Delegate& d, size_t index, std::string* error) {
  const fb_xnnpack::XNode& node = *d.graph().root().xnodes()->Get(static_cast<flatbuffers::uoffset_t>(index));
  bool handled = false;
  const bool ok = compile_xnnpack_node(d, node, error, &handled);
  if (handled) return ok;
  const bool native_ok = compile_native_node(d, node, error, &handled);
  if (handled) return native_ok;
  *error = "this node type is not supported by the XNNPACK plugin";
  return false;
}

}  // namespace etp_xnnpack
