#include "host_cache.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gmai {
namespace {

size_t capFromEnvironment() {
  if (const char* env = std::getenv("GMAI_HOST_CACHE_MB")) {
    char* end = nullptr;
    unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0') return size_t(mb) << 20;
  }
  return size_t(1) << 30;  // 1 GiB
}

class HostCache {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(bytes);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= bytes;
    return p;
  }
  bool keep(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + bytes > cap_) return false;
    free_[bytes].push_back(p);
    cached_ += bytes;
    return true;
  }
  size_t trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    size_t released = cached_;
    cached_ = 0;
    return released;
  }
  HostCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_, cap_};
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
  const size_t cap_ = capFromEnvironment();
};

// Never destroyed: tensors may still be released while the process exits.
HostCache& cache() {
  static HostCache* c = new HostCache();
  return *c;
}

}  // namespace

void* hostAcquire(size_t bytes) {
  if (bytes >= kHostCacheMinBytes)
    if (void* p = cache().take(bytes)) return p;
  return std::malloc(bytes);
}

void hostRelease(void* p, size_t bytes) {
  if (bytes >= kHostCacheMinBytes && cache().keep(p, bytes)) return;
  std::free(p);
}

HostCacheStats hostCacheStats() { return cache().stats(); }
size_t hostCacheTrim() { return cache().trim(); }

}  // namespace gmai
