// StepPlan (see step_plan.h).
#include "models/step_plan.h"

#include <algorithm>

#include "core/error.h"

namespace whale {

void StepPlan::plan(std::span<const SequenceBatch> batch, int64_t max_rows, int64_t vocab_size) {
  WHALE_ASSERT(max_rows > 0);
  segments_.clear();
  pass_ends_.clear();
  targets_.clear();
  target_ends_.clear();
  int64_t row = 0;
  auto close_pass = [&] {
    pass_ends_.push_back(segments_.size());
    target_ends_.push_back(targets_.size());
    row = 0;
  };
  for (size_t s = 0; s < batch.size(); ++s) {
    const SequenceBatch& seq = batch[s];
    const auto total = static_cast<int64_t>(seq.tokens.size());
    const bool every = !seq.logits.empty() && static_cast<int64_t>(seq.logits.size()) == total * vocab_size &&
                       total != 1;
    for (int64_t offset = 0; offset < total;) {
      if (row == max_rows) close_pass();
      const int64_t len = std::min(max_rows - row, total - offset);
      segments_.push_back({s, offset, len, row, seq.start_pos + offset, seq.cache});
      if (every) {
        targets_.push_back({row, len, seq.logits.data() + offset * vocab_size});
      } else if (!seq.logits.empty() && offset + len == total) {
        targets_.push_back({row + len - 1, 1, seq.logits.data()});
      }
      row += len;
      offset += len;
    }
  }
  if (row > 0) close_pass();
}

std::span<const Segment> StepPlan::segments(size_t pass) const {
  const size_t first = pass == 0 ? 0 : pass_ends_[pass - 1];
  return std::span<const Segment>(segments_).subspan(first, pass_ends_[pass] - first);
}

int64_t StepPlan::rows(size_t pass) const {
  const Segment& last = segments(pass).back();
  return last.row + last.len;
}

std::span<const LogitTarget> StepPlan::logits(size_t pass) const {
  const size_t first = pass == 0 ? 0 : target_ends_[pass - 1];
  return std::span<const LogitTarget>(targets_).subspan(first, target_ends_[pass] - first);
}

void gather_tokens(std::span<const SequenceBatch> batch, std::span<const Segment> segments, int32_t* out) {
  for (const Segment& seg : segments) {
    std::copy_n(batch[seg.seq].tokens.data() + seg.offset, seg.len, out + seg.row);
  }
}

}  // namespace whale
