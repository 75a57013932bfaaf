// DeepSeek-V3's multi-token-prediction module (technical report section 2.2), at inference a draft model for
// the token after next:
//   h'_t   = eh_proj([rmsnorm_e(Emb(x_{t+1})); rmsnorm_h(h_t)])      (embedding half first, as the released
//                                                                     weights and llama.cpp order it)
//   h''_t  = Block(h'_t)                                             (MLA + MoE, its own latent cache layer)
//   logits = Head(rmsnorm_shared_head(h''_t))                         -> x_{t+2}
// h_t is the main model's final hidden state at t after output_norm (the output head's input), as llama.cpp
// feeds it. Emb and Head are the main model's unless the file carries the module's own copies.
#include <algorithm>

#include "core/error.h"
#include "kernels/ops.h"
#include "models/deepseek2_model.h"

namespace whale {

void Deepseek2Model::mtp_forward(std::span<const float> hidden, std::span<const int32_t> next_tokens,
                                 int64_t start_pos, KvCache& cache, std::span<float> logits) {
  State& st = *state_;
  Deepseek2Scratch& s = st.s;
  const ModelConfig& c = config_;
  if (!has_mtp()) fail("{}: the model has no MTP module (nextn_predict_layers is 0)", st.weights.path());
  const int64_t total = static_cast<int64_t>(next_tokens.size());
  const int64_t width = c.hidden_size;
  WHALE_ASSERT(hidden.size() == static_cast<size_t>(total * width));
  WHALE_ASSERT(logits.empty() || logits.size() == static_cast<size_t>(c.vocab_size) ||
               logits.size() == static_cast<size_t>(total * c.vocab_size));
  auto* latent = dynamic_cast<Deepseek2Cache*>(&cache);
  WHALE_ASSERT(latent != nullptr && start_pos >= 0 && cache.capacity() <= s.context);
  if (start_pos + total > cache.capacity()) {
    fail("{}: the context is full: {} tokens at position {} do not fit a context of {} tokens", st.weights.path(),
         total, start_pos, cache.capacity());
  }
  for (int32_t id : next_tokens) {
    if (id < 0 || id >= c.vocab_size) fail("{}: token id {} is outside the vocabulary [0, {})", st.weights.path(), id, c.vocab_size);
  }

  const int64_t layer = st.main_layers;
  const Deepseek2Block& b = st.blocks[layer];
  const Matrix& embed = present(b.embed_tokens) ? b.embed_tokens : st.token_embd;
  const Matrix& head = present(b.shared_head_head) ? b.shared_head_head : st.output;
  const std::vector<float>& head_norm = b.shared_head_norm.empty() ? st.output_norm : b.shared_head_norm;
  const bool every = !logits.empty() && logits.size() == static_cast<size_t>(total * c.vocab_size);

  for (int64_t first = 0; first < total; first += st.max_batch) {
    const int64_t n = std::min(st.max_batch, total - first);
    for (int64_t t = 0; t < n; ++t) {
      float* cat = s.mtp_cat.data() + t * 2 * width;
      float* emb = s.gathered.data() + t * width;
      kernels::get_row(embed, next_tokens[first + t], emb);
      kernels::rmsnorm(emb, b.enorm.data(), width, c.rms_norm_eps, cat);
      kernels::rmsnorm(hidden.data() + (first + t) * width, b.hnorm.data(), width, c.rms_norm_eps, cat + width);
    }
    kernels::matmul(b.eh_proj, s.mtp_cat.data(), n, s.x.data(), *st.pool);
    const Segment segment{0, first, n, 0, start_pos + first, latent};
    deepseek2_block(st, c, layer, std::span<const Segment>(&segment, 1), n, mla_mode_);
    // The normed outputs go to xn, not `hidden` (the caller's input may be hidden_states() itself).
    for (int64_t t = 0; t < n; ++t) {
      kernels::rmsnorm(s.x.data() + t * width, head_norm.data(), width, c.rms_norm_eps, s.xn.data() + t * width);
    }
    if (every) {
      deepseek2_head(st, head, s.xn.data(), n, logits.data() + first * c.vocab_size);
    } else if (!logits.empty() && first + n == total) {
      deepseek2_head(st, head, s.xn.data() + (n - 1) * width, 1, logits.data());
    }
  }
}

}  // namespace whale
