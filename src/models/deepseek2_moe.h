// DeepSeekMoE routing: which routed experts a token goes to and with what weights (DeepSeek-V2 and V3).
//
//   V2 / V2-Lite: p = softmax(gate logits); greedy top-k over all experts (or group-limited top-k).
//   V3 / R1:      p = sigmoid(gate logits); the selection uses p + e_score_correction_bias (GGUF tensor
//                 exp_probs_b), the weights use the unbiased p; experts are split into n_group groups, the
//                 topk_group best groups are kept, then the top-k experts among them.
//   Weights of the chosen experts are divided by their sum when norm_topk_prob, then multiplied by
//   routed_scaling_factor (llama.cpp applies both independently, and so does whale).
//
// Ties are broken towards the lower expert (and group) index, so routing is deterministic.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/config.h"

namespace whale {

// How a group of experts is scored for group-limited routing. DeepSeek-V3 ("noaux_tc") sums the two best
// biased scores of each group; DeepSeek-V2 ("group_limited_greedy") takes the best one. GGUF files do not
// record which, and llama.cpp always uses the sum of the top two, so that is what whale's models use.
enum class GroupScoring { SumTop2, Max };

struct RouterConfig {
  int64_t expert_count = 0;        // n_routed_experts
  int64_t experts_per_token = 0;   // num_experts_per_tok
  int64_t group_count = 1;         // n_group (1 = no group limit)
  int64_t group_used_count = 1;    // topk_group
  GroupScoring group_scoring = GroupScoring::SumTop2;
  ExpertGating gating = ExpertGating::Softmax;
  bool normalize = false;          // norm_topk_prob
  float scale = 1.0f;              // routed_scaling_factor

  static RouterConfig from_model(const ModelConfig& config);
};

// Buffers route() needs, sized once for a RouterConfig.
struct RouterScratch {
  explicit RouterScratch(const RouterConfig& config);
  std::vector<float> probs;         // [expert_count] gate probabilities (unbiased)
  std::vector<float> selection;     // [expert_count] probs + score bias
  std::vector<uint8_t> allowed;     // [expert_count] 1 where the expert's group was kept
  std::vector<float> group_scores;  // [group_count]
  std::vector<uint8_t> group_kept;  // [group_count]
  std::vector<uint8_t> group_open;  // [group_count] not yet kept while choosing groups
};

// Routes one token. `logits` are the gate outputs (expert_count floats); `score_bias` is the V3 selection
// bias (expert_count floats) or empty. Writes experts_per_token expert ids (best first) and their weights.
// Allocates nothing.
void route(const RouterConfig& config, std::span<const float> logits, std::span<const float> score_bias,
           RouterScratch& scratch, std::span<int32_t> expert_ids, std::span<float> expert_weights);

}  // namespace whale
