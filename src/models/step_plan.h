// StepPlan: how one Model::forward call over several sequences is run as batched passes. The tokens of all
// sequences are laid out as rows of one activation matrix, so every weight is read once per pass for all of
// them (the point of continuous batching: sixteen decoding streams cost about one weight pass, not sixteen).
// Only attention is per sequence, over that sequence's own cache.
//
// A pass holds at most `max_rows` rows (the model's scratch); a longer step is cut into several passes, and a
// sequence may continue from one pass into the next (its tokens stay in order).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "models/model.h"

namespace whale {

// A run of one sequence's tokens inside a pass: tokens[offset, offset + len) of batch[seq], at rows
// [row, row + len) of the pass and positions start_pos + offset ...
struct Segment {
  size_t seq = 0;
  int64_t offset = 0;
  int64_t len = 0;
  int64_t row = 0;
  int64_t pos = 0;
  KvCache* cache = nullptr;
};

// Logits the caller asked for from a pass: `count` consecutive rows from `row` go to `dest` (count * vocab).
struct LogitTarget {
  int64_t row = 0;
  int64_t count = 0;
  float* dest = nullptr;
};

class StepPlan {
 public:
  // Cuts `batch` into passes of at most max_rows rows. Reuses its storage: no allocation once warm.
  void plan(std::span<const SequenceBatch> batch, int64_t max_rows, int64_t vocab_size);

  size_t pass_count() const { return pass_ends_.size(); }
  std::span<const Segment> segments(size_t pass) const;
  // Rows of the pass in all.
  int64_t rows(size_t pass) const;
  // Where the pass's logits go: whole segments for SequenceBatch::logits of every token, the sequence's last
  // row for last-token logits (only in the pass that holds that token).
  std::span<const LogitTarget> logits(size_t pass) const;

 private:
  std::vector<Segment> segments_;
  std::vector<size_t> pass_ends_;  // end index into segments_ of each pass
  std::vector<LogitTarget> targets_;
  std::vector<size_t> target_ends_;
};

// The tokens of a pass's rows, into out[0 .. rows).
void gather_tokens(std::span<const SequenceBatch> batch, std::span<const Segment> segments, int32_t* out);

// Writes a pass's logits. `normed` holds the final normed hidden state of each target row (row-major, `hidden`
// wide); head(rows, n, out) computes the logits of n contiguous rows. Multi-row targets go straight to their
// destination; single rows (the last token of each decoding sequence) are gathered so the head's weights are
// read once for all of them. `gather` and `scratch` are grow-only buffers.
template <class Head>
void project_logits(std::span<const LogitTarget> targets, const float* normed, int64_t hidden, int64_t vocab,
                    std::vector<float>& gather, std::vector<float>& scratch, Head&& head) {
  int64_t singles = 0;
  for (const LogitTarget& t : targets) {
    if (t.count == 1) {
      ++singles;
    } else {
      head(normed + t.row * hidden, t.count, t.dest);
    }
  }
  if (singles == 0) return;
  if (gather.size() < static_cast<size_t>(singles * hidden)) gather.resize(static_cast<size_t>(singles * hidden));
  if (scratch.size() < static_cast<size_t>(singles * vocab)) scratch.resize(static_cast<size_t>(singles * vocab));
  int64_t i = 0;
  for (const LogitTarget& t : targets) {
    if (t.count == 1) std::copy_n(normed + t.row * hidden, hidden, gather.data() + (i++) * hidden);
  }
  head(gather.data(), singles, scratch.data());
  i = 0;
  for (const LogitTarget& t : targets) {
    if (t.count == 1) std::copy_n(scratch.data() + (i++) * vocab, vocab, t.dest);
  }
}

}  // namespace whale
