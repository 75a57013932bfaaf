// PrefixCache: longest-prefix slot selection for the scheduler (see prefix_cache.h).
#include "runtime/prefix_cache.h"

#include <algorithm>

#include "core/error.h"

namespace whale {

int64_t common_prefix_length(std::span<const int32_t> a, std::span<const int32_t> b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return static_cast<int64_t>(i);
}

PrefixCache::PrefixCache(int32_t slot_count) : slots_(static_cast<size_t>(slot_count)) { WHALE_ASSERT(slot_count > 0); }

PrefixMatch PrefixCache::find(std::span<const int32_t> prompt, std::span<const int32_t> candidates) const {
  PrefixMatch best;
  uint64_t best_used = 0;
  for (int32_t slot : candidates) {
    const Slot& s = slots_.at(static_cast<size_t>(slot));
    int64_t matched = common_prefix_length(prompt, s.tokens);
    bool better = best.slot < 0 || matched > best.matched || (matched == best.matched && s.last_used < best_used);
    if (better) {
      best = {slot, matched};
      best_used = s.last_used;
    }
  }
  return best;
}

void PrefixCache::truncate(int32_t slot, int64_t keep) {
  auto& tokens = slots_.at(static_cast<size_t>(slot)).tokens;
  WHALE_ASSERT(keep >= 0 && keep <= static_cast<int64_t>(tokens.size()));
  tokens.resize(static_cast<size_t>(keep));
}

void PrefixCache::append(int32_t slot, std::span<const int32_t> appended) {
  auto& tokens = slots_.at(static_cast<size_t>(slot)).tokens;
  tokens.insert(tokens.end(), appended.begin(), appended.end());
}

void PrefixCache::touch(int32_t slot) { slots_.at(static_cast<size_t>(slot)).last_used = ++clock_; }

}  // namespace whale
