// The plugin-owned weight cache. Debian's XNNPACK has no weights cache, but its operators
// pack their weights when created and can be set up again for new pointers and shapes, so
// an operator *is* a packed weight. Operators whose weights belong to a data file that the
// manifest gives to this plugin's cache are shared: one per (data file, weight key, bias key,
// operator parameters) for every delegate of every program, reference-counted by the
// delegates and freed with the last. Others are private to their delegate.
// Thread-safe: acquire/report may be called concurrently; each entry's `mutex` serialises
// the setup and run of its operator, because setup stores pointers inside the operator.
#pragma once

#include <xnnpack.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace etp_xnnpack {

// A delegate using a packed operator: its name for messages and what identifies it to the host
// (etp_cache_user).
struct CacheUser {
  std::string name;  // "<program>:<method>:<delegate>"
  uint64_t method_id = 0;
  uint32_t delegate_index = 0;
  bool operator<(const CacheUser& o) const {
    return method_id != o.method_id             ? method_id < o.method_id
           : delegate_index != o.delegate_index ? delegate_index < o.delegate_index
                                                : name < o.name;
  }
};

struct PackedOp {
  xnn_operator_t op = nullptr;
  // Weights packed for a plugin-native kernel (native_gemm.h) instead of an operator; allocated
  // with counting_allocator()'s aligned_allocate, so packed_bytes counts them.
  float* native = nullptr;
  std::mutex mutex;
  std::string key;                 // "" for private operators
  uint64_t file_id = 0;            // data file of the packed weights
  uint64_t packed_bytes = 0;       // bytes XNNPACK allocated creating the operator (measured)
  std::multiset<CacheUser> users;  // for the cache report (guarded by the cache)
  // The binding (Delegate::binding_generation) and step the operator was last set up for: a
  // run with the same ones skips setup (guarded by `mutex`).
  uint64_t setup_generation = 0;
  const void* setup_step = nullptr;
  ~PackedOp();
};

struct CacheReportEntry {
  std::string key;
  bool shared = false;
  uint64_t file_id = 0;
  uint64_t packed_bytes = 0;
  std::vector<CacheUser> users;
};

class WeightCache {
 public:
  // Returns the shared operator for `key`, creating it with `create` (which returns an
  // xnn_status and fills the operator, or its native weights) if no live entry exists. `user` names the delegate.
  // An empty key gives a private operator; `weights` says whether it packs weights (then it is
  // listed in the report as a private entry). On failure returns null and sets *status.
  std::shared_ptr<PackedOp> acquire(const std::string& key, uint64_t file_id, bool weights, const CacheUser& user,
                                    const std::function<xnn_status(PackedOp&)>& create, xnn_status* status);
  // The delegate `user` no longer uses `op` (it still holds its shared_ptr until it drops it).
  void release(const std::shared_ptr<PackedOp>& op, const CacheUser& user);

  std::vector<CacheReportEntry> report();

 private:
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<PackedOp>> entries_;
  std::vector<std::weak_ptr<PackedOp>> private_;  // private operators that pack weights
};

// The allocator the plugin gives XNNPACK: it counts the bytes XNNPACK allocates on the calling
// thread, so the cache can measure exactly what packing an operator cost.
const xnn_allocator* counting_allocator();
// Bytes XNNPACK has allocated on this thread through counting_allocator() (monotonic).
uint64_t xnnpack_bytes_allocated_on_this_thread();

}  // namespace etp_xnnpack
