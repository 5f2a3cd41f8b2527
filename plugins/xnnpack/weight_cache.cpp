#include "weight_cache.h"

#include <malloc.h>

namespace etp_xnnpack {

uint64_t heap_bytes_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;  // small-chunk arena use + mmap'd large blocks
}

std::shared_ptr<PackedOp> WeightCache::acquire(const std::string& key, uint64_t file_id, bool weights,
                                               const std::string& user,
                                               const std::function<xnn_status(xnn_operator_t*)>& create,
                                               xnn_status* status) {
  // Creation runs under the cache lock so the heap measurement sees only this operator.
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
  const uint64_t before = heap_bytes_in_use();
  *status = create(&op->op);
  if (*status != xnn_status_success) return nullptr;
  const uint64_t after = heap_bytes_in_use();
  op->packed_bytes = after > before ? after - before : 0;
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

void WeightCache::release(const std::shared_ptr<PackedOp>& op, const std::string& user) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = op->users.find(user);
  if (it != op->users.end()) op->users.erase(it);
}

std::vector<CacheReportEntry> WeightCache::report() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CacheReportEntry> out;
  auto add = [&](const std::string& key, bool shared, const PackedOp& op) {
    out.push_back({key, shared, op.file_id, op.packed_bytes, std::vector<std::string>(op.users.begin(), op.users.end())});
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
