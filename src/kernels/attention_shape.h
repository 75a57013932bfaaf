// AttentionShape: the layout of queries, cached keys and values for the attention kernels. Strides are in
// floats, so one kernel serves standard multi-head / grouped-query attention and MLA's latent attention
// (one kv "head" whose key row is [c_kv | k_pe] and whose value is the c_kv prefix of the same row:
// v = k, v_stride = k_stride, value_dim = kv_lora_rank).
#pragma once

#include <cstdint>

namespace whale {

struct AttentionShape {
  int64_t heads = 0;      // query heads
  int64_t kv_heads = 0;   // key/value heads; heads % kv_heads == 0
  int64_t key_dim = 0;    // per-head q/k width
  int64_t value_dim = 0;  // per-head v width
  int64_t q_stride = 0;   // floats between consecutive tokens' queries (head h at h * key_dim)
  int64_t k_stride = 0;   // floats between consecutive positions' keys (kv head g at g * key_dim)
  int64_t v_stride = 0;   // floats between consecutive positions' values (kv head g at g * value_dim)
  int64_t out_stride = 0; // floats between consecutive tokens' outputs (head h at h * value_dim)
};

}  // namespace whale
