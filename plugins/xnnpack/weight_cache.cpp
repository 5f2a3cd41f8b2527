#include "weight_cache.h"

#include <cstdlib>
#include <cstring>

namespace etp_xnnpack {
namespace {

thread_local uint64_t t_allocated = 0;

void* allocate(void*, size_t size) {
  t_allocated += size;
  return std::malloc(size);
}
void* reallocate(void*, void* pointer, size_t size) {
  t_allocated += size;  // counts the new size; reallocation is rare in XNNPACK
  return std::realloc(pointer, size);
}
void deallocate(void*, void* pointer) { std::free(pointer); }
void* aligned_allocate(void*, size_t alignment, size_t size) {
  void* p = nullptr;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  if (posix_memalign(&p, alignment, size == 0 ? 1 : size) != 0) return nullptr;
  t_allocated += size;
  return p;
}
void aligned_deallocate(void*, void* pointer) { std::free(pointer); }

const xnn_allocator kAllocator = {nullptr, allocate, reallocate, deallocate, aligned_allocate, aligned_deallocate};

}  // namespace

const xnn_allocator* counting_allocator() { return &kAllocator; }
uint64_t xnnpack_bytes_allocated_on_this_thread() { return t_allocated; }

PackedOp::~PackedOp() {
  if (op != nullptr) xnn_delete_operator(op);
  std::free(native);
}

std::shared_ptr<PackedOp> WeightCache::acquire(const std::string& key, uint64_t file_id, bool weights,
                                               const CacheUser& user,
                                               const std::function<xnn_status(PackedOp&)>& create, xnn_status* status) {
  // Creation runs under the cache lock, so concurrent inits never pack one key twice.
  std::lock_guard<std::mutex> lock(mutex_);
  if (!key.empty()) {
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      if (auto live = it->second.lock()) {
        live->users.insert(user);
        *status = xnn_status_success;
        return live;
      }
    }
  }
  auto op = std::make_shared<PackedOp>();
  const uint64_t before = xnnpack_bytes_allocated_on_this_thread();
  *status = create(*op);
  if (*status != xnn_status_success) return nullptr;
  op->packed_bytes = xnnpack_bytes_allocated_on_this_thread() - before;
  op->key = key;
  op->file_id = file_id;
  op->users.insert(user);
  if (!key.empty()) {
    entries_[key] = op;
  } else if (weights) {
    private_.push_back(op);
  }
  return op;
}

void WeightCache::release(const std::shared_ptr<PackedOp>& op, const CacheUser& user) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = op->users.find(user);
  if (it != op->users.end()) op->users.erase(it);
}

std::vector<CacheReportEntry> WeightCache::report() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CacheReportEntry> out;
  auto add = [&](const std::string& key, bool shared, const PackedOp& op) {
    out.push_back({key, shared, op.file_id, op.packed_bytes, std::vector<CacheUser>(op.users.begin(), op.users.end())});
  };
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (auto live = it->second.lock()) {
      add(it->first, true, *live);
      ++it;
    } else {
      it = entries_.erase(it);
    }
  }
  for (auto it = private_.begin(); it != private_.end();) {
    if (auto live = it->lock()) {
      add("", false, *live);
      ++it;
    } else {
      it = private_.erase(it);
    }
  }
  return out;
}

}  // namespace etp_xnnpack
