// `whale convert` checked against independent readers: node-llama-cpp's own GGUF parser (keys, value types,
// tensor names, ggml dimensions and types), the safetensors bytes decoded here in JavaScript (tensor values
// through the llama rope permutation, DeepSeek FP8 scaling and kv_b split, expert stacking), and llama.cpp
// itself (it loads every converted file and tokenizes like Hugging Face tokenizers).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const root = process.env.WHALE_SOURCE_DIR ?? process.cwd();
const whale = process.env.WHALE;
if (!whale) throw new Error("set WHALE to the whale binary");
const { getLlama, readGgufFileInfo } = await import(pathToFileURL(path.join(root, "node_modules/node-llama-cpp/dist/index.js")).href);
const { Tokenizer } = require(path.join(root, "node_modules/tokenizers"));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "whale-convert-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

// --- safetensors, decoded independently -------------------------------------------------------------
function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString());
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    tensors[name] = { ...t, bytes: buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]) };
  }
  return tensors;
}
function fp8(code) {
  const e = (code >> 3) & 15, m = code & 7;
  const mag = e === 0 ? (m / 8) * 2 ** -6 : (1 + m / 8) * 2 ** (e - 7);
  return code & 0x80 ? -mag : mag;
}
function values(st, name) {  // float64 values of an HF tensor, FP8 scaled by its 128x128 block scales
  const t = st[name];
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  if (t.dtype === "BF16") for (let i = 0; i < n; i++) out[i] = new Float32Array(new Uint32Array([t.bytes.readUInt16LE(2 * i) << 16]).buffer)[0];
  else if (t.dtype === "F32") for (let i = 0; i < n; i++) out[i] = t.bytes.readFloatLE(4 * i);
  else if (t.dtype === "F8_E4M3") {
    const s = st[name + "_scale_inv"], cols = t.shape[1], scaleCols = s.shape[1];
    for (let i = 0; i < n; i++) {
      const r = Math.floor(i / cols), c = i % cols;
      out[i] = fp8(t.bytes[i]) * s.bytes.readFloatLE(4 * (Math.floor(r / 128) * scaleCols + Math.floor(c / 128)));
    }
  } else throw new Error(`dtype ${t.dtype}`);
  return out;
}
// f32 values of a GGUF tensor (the tests convert with --type f32 where they compare values)
function ggufValues(file, info, name) {
  const t = info.tensorInfo.find((x) => x.name === name);
  assert.ok(t, `tensor ${name} missing`);
  assert.equal(t.ggmlType, 0, `${name} should be f32`);
  const n = t.dimensions.reduce((a, b) => a * Number(b), 1);
  const fd = fs.openSync(file, "r");
  const buf = Buffer.alloc(4 * n);
  fs.readSync(fd, buf, 0, buf.length, Number(t.fileOffset));
  fs.closeSync(fd);
  return Float64Array.from({ length: n }, (_, i) => buf.readFloatLE(4 * i));
}
const close = (a, b) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

// --- per architecture -----------------------------------------------------------------------------------
const cases = [
  { arch: "qwen2", gguf: "qwen2", type: "f16", family: "qwen3" },
  { arch: "qwen3", gguf: "qwen3", type: "q8_0", family: "qwen3" },
  { arch: "llama", gguf: "llama", type: "f32", family: "llama3" },
  { arch: "deepseek_v3", gguf: "deepseek2", type: "f32", family: "deepseek_v3" },
];
const results = [];
for (const c of cases) {
  const dir = path.join(tmp, c.arch);
  const out = path.join(tmp, `${c.arch}.gguf`);
  run("node", [path.join(root, "tests/formats/make_tiny_hf.mjs"), c.arch, dir]);
  run(whale, ["convert", dir, out, "--type", c.type]);
  const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  const st = readSafetensors(path.join(dir, "model.safetensors"));
  const info = await readGgufFileInfo(out, { logWarnings: false });
  const md = info.metadata;
  const a = md[c.gguf];
  assert.equal(info.version, 3);
  assert.equal(md.general.architecture, c.gguf);
  assert.equal(a.block_count, config.num_hidden_layers);
  assert.equal(a.embedding_length, config.hidden_size);
  assert.equal(a.context_length, config.max_position_embeddings);
  assert.equal(a.attention.head_count, config.num_attention_heads);
  assert.ok(Math.abs(a.attention.layer_norm_rms_epsilon - config.rms_norm_eps) < 1e-12);
  assert.equal(md.tokenizer.ggml.model, "gpt2");
  assert.ok(md.tokenizer.chat_template.length > 100, "chat template written");
  const tensors = new Map(info.tensorInfo.map((t) => [t.name, t]));
  const dims = (name) => tensors.get(name)?.dimensions.map(Number);
  // Rows of 1-D tensors and norms are f32 whatever the requested type (llama.cpp's rule).
  for (const t of info.tensorInfo) {
    if (t.dimensions.length === 1 || t.name.endsWith("_norm.weight")) assert.equal(t.ggmlType, 0, `${t.name} f32`);
  }

  if (c.arch === "qwen2" || c.arch === "qwen3") {
    const hd = config.head_dim ?? config.hidden_size / config.num_attention_heads;
    assert.deepEqual(dims("blk.0.attn_q.weight"), [config.hidden_size, config.num_attention_heads * hd]);
    assert.deepEqual(dims("blk.1.ffn_down.weight"), [config.intermediate_size, config.hidden_size]);
    assert.equal(tensors.has("output.weight"), !config.tie_word_embeddings);
    if (c.arch === "qwen2") assert.deepEqual(dims("blk.1.attn_k.bias"), [hd]);
    if (c.arch === "qwen3") {
      assert.deepEqual(dims("blk.0.attn_k_norm.weight"), [hd]);
      assert.equal(tensors.get("blk.0.attn_q.weight").ggmlType, 8, "q8_0");
      assert.equal(a.attention.key_length, hd);
    }
  }
  if (c.arch === "llama") {
    // q rows permuted per head (n_head 2, head_dim 16): GGUF row 2i + j of a head = HF row j * 8 + i.
    const hf = values(st, "model.layers.1.self_attn.q_proj.weight");
    const gg = ggufValues(out, info, "blk.1.attn_q.weight");
    const cols = config.hidden_size, hd = cols / config.num_attention_heads, half = hd / 2;
    for (let h = 0; h < config.num_attention_heads; h++)
      for (let i = 0; i < half; i++)
        for (let j = 0; j < 2; j++)
          for (let col = 0; col < cols; col++)
            assert.ok(close(gg[(h * hd + 2 * i + j) * cols + col], hf[(h * hd + j * half + i) * cols + col]), "q permutation");
    // llama3 rope factors, recomputed here in double precision.
    const rs = config.rope_scaling;
    const rf = ggufValues(out, info, "rope_freqs.weight");
    assert.equal(rf.length, hd / 2);
    for (let i = 0; i < hd / 2; i++) {
      const wavelen = (2 * Math.PI) / (1 / config.rope_theta ** ((2 * i) / hd));
      const lowW = rs.original_max_position_embeddings / rs.low_freq_factor;
      const highW = rs.original_max_position_embeddings / rs.high_freq_factor;
      let expect = 1;
      if (wavelen > lowW) expect = rs.factor;
      else if (wavelen >= highW) {
        const smooth = (rs.original_max_position_embeddings / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        expect = 1 / ((1 - smooth) / rs.factor + smooth);
      }
      assert.ok(Math.abs(rf[i] - expect) < 1e-4 * expect, `rope_freqs[${i}] ${rf[i]} vs ${expect}`);
    }
    assert.ok(!("scaling" in (a.rope ?? {})), "llama3 scaling travels as rope_freqs only");
  }
  if (c.arch === "deepseek_v3") {
    const H = config.num_attention_heads, nope = config.qk_nope_head_dim, v = config.v_head_dim, rank = config.kv_lora_rank;
    assert.equal(a.attention.head_count_kv, 1);
    assert.equal(a.attention.key_length, rank + config.qk_rope_head_dim);
    assert.equal(a.attention.key_length_mla, nope + config.qk_rope_head_dim);
    assert.equal(a.attention.value_length_mla, v);
    assert.equal(a.attention.q_lora_rank, config.q_lora_rank);
    assert.equal(a.leading_dense_block_count, config.first_k_dense_replace);
    assert.equal(a.expert_count, config.n_routed_experts);
    assert.equal(a.expert_used_count, config.num_experts_per_tok);
    assert.equal(a.expert_shared_count, config.n_shared_experts);
    assert.equal(a.expert_gating_func, 2);
    assert.equal(a.expert_weights_norm, true);
    assert.ok(Math.abs(a.expert_weights_scale - 2.5) < 1e-6);
    assert.equal(a.rope.scaling.type, "yarn");
    assert.ok(Math.abs(a.rope.scaling.yarn_log_multiplier - 0.1) < 1e-6);
    assert.ok(!tensors.has("blk.2.attn_norm.weight"), "MTP layer left out");
    assert.deepEqual(dims("blk.1.attn_k_b.weight"), [nope, rank, H]);
    assert.deepEqual(dims("blk.1.attn_v_b.weight"), [rank, v, H]);
    assert.deepEqual(dims("blk.1.ffn_gate_exps.weight"), [config.hidden_size, config.moe_intermediate_size, config.n_routed_experts]);
    assert.deepEqual(dims("blk.1.exp_probs_b.bias"), [config.n_routed_experts]);
    // kv_b (FP8 x scale) split: k_b[h][r][j] = kv_b[h*(nope+v) + j][r], v_b[h][i][r] = kv_b[h*(nope+v) + nope + i][r].
    const kvb = values(st, "model.layers.1.self_attn.kv_b_proj.weight");
    const kb = ggufValues(out, info, "blk.1.attn_k_b.weight");
    const vb = ggufValues(out, info, "blk.1.attn_v_b.weight");
    for (let h = 0; h < H; h++)
      for (let r = 0; r < rank; r++) {
        for (let j = 0; j < nope; j++) assert.ok(close(kb[(h * rank + r) * nope + j], kvb[(h * (nope + v) + j) * rank + r]), "k_b");
        for (let i = 0; i < v; i++) assert.ok(close(vb[(h * v + i) * rank + r], kvb[(h * (nope + v) + nope + i) * rank + r]), "v_b");
      }
    // Stacked experts: expert e of ffn_down_exps is HF expert e's down_proj.
    const down = ggufValues(out, info, "blk.1.ffn_down_exps.weight");
    const per = config.hidden_size * config.moe_intermediate_size;
    for (let e = 0; e < config.n_routed_experts; e++) {
      const hf = values(st, `model.layers.1.mlp.experts.${e}.down_proj.weight`);
      for (let i = 0; i < per; i++) assert.ok(close(down[e * per + i], hf[i]), "expert stacking");
    }
  }
  results.push({ ...c, out, dir });
  if (c.arch === "deepseek_v3") {
    // With --mtp the multi-token-prediction layer is kept as blk.2 (+ nextn.*), which llama.cpp also loads.
    const mtpOut = path.join(tmp, "deepseek_v3_mtp.gguf");
    run(whale, ["convert", dir, mtpOut, "--mtp"]);
    const mtp = await readGgufFileInfo(mtpOut, { logWarnings: false });
    assert.equal(mtp.metadata.deepseek2.block_count, config.num_hidden_layers + 1);
    assert.equal(mtp.metadata.deepseek2.nextn_predict_layers, 1);
    const eh = mtp.tensorInfo.find((t) => t.name === "blk.2.nextn.eh_proj.weight");
    assert.deepEqual(eh.dimensions.map(Number), [2 * config.hidden_size, config.hidden_size]);
    results.push({ ...c, arch: "deepseek_v3 --mtp", out: mtpOut, dir });
  }
}

// --- llama.cpp loads each file and tokenizes like Hugging Face ------------------------------------------
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const text = "Hello world! Ünïcödé 1234567 and    spaces\n\tcode();";
for (const r of results) {
  const model = await llama.loadModel({ modelPath: r.out });
  const ctx = await model.createContext({ contextSize: 64 });
  const hf = Tokenizer.fromFile(path.join(r.dir, "tokenizer.json"));
  const expected = Array.from((await hf.encode(text, null, { addSpecialTokens: false })).getIds());
  const got = Array.from(model.tokenize(text));
  assert.deepEqual(got, expected, `${r.arch}: llama.cpp tokenization of the converted file`);
  await ctx.dispose();
  await model.dispose();
  console.log(`${r.arch}: ok`);
}
