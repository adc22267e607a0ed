#!/usr/bin/env python3
"""Independent PyTorch reference for GPT-NeoX / Pythia (Hugging Face transformers' modeling_gpt_neox.py,
GPTNeoXForCausalLM).

Usage: /usr/bin/python3 tools/reference/gpt_neox.py <model_folder> <out.safetensors>

Writes the decoder golden that common.py describes. Two variants of the same weights follow, each with the same
tensors under a prefix: `sequential.` (use_parallel_residual = false, when the config is parallel) and
`rotary_dim_4.` (4 rotary dims per head, when the config rotates fewer: with 2 the rotate-half and interleaved
pairings coincide and the base plays no part). See tools/reference/README.md.
"""

import copy
import json
import math

import torch
import torch.nn.functional as F

from common import INPUT_IDS, TARGETS, compact, decoder_inputs, gelu_new, golden_tensors, layer_norm_tl, load_weights
from common import provenance, read_args, report, rotate_half, run_decoder_reference, write_golden


def gelu_erf(x):
    # transformers.activations.GELUActivation: exact GELU
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


ACT = {"gelu": gelu_erf, "gelu_new": gelu_new, "gelu_pytorch_tanh": gelu_new, "relu": torch.relu, "silu": F.silu}


class Config:
    def __init__(self, cfg):
        self.d = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_layers = cfg["num_hidden_layers"]
        self.d_mlp = cfg["intermediate_size"]
        self.eps = cfg.get("layer_norm_eps", 1e-5)
        self.act = cfg.get("hidden_act", "gelu")
        if self.act not in ACT:
            raise SystemExit(f"unsupported hidden_act {self.act!r}")
        # newer transformers rename rotary_pct → partial_rotary_factor and rotary_emb_base → rope_theta
        pct = cfg.get("rotary_pct", cfg.get("partial_rotary_factor", 0.25))
        self.base = cfg.get("rotary_emb_base", cfg.get("rope_theta", 10000))
        if cfg.get("rope_scaling") is not None:
            raise SystemExit("rope_scaling is not supported by this reference")
        self.parallel = cfg.get("use_parallel_residual", True)
        self.tie = cfg.get("tie_word_embeddings", False)
        self.bias = cfg.get("attention_bias", True)
        if self.d % self.n_heads != 0:
            raise SystemExit(f"hidden_size {self.d} is not divisible by num_attention_heads {self.n_heads}")
        self.d_head = self.d // self.n_heads
        self.rotary = int(self.d_head * pct)  # GPTNeoXAttention.rotary_ndims


def rotary_tl(x, positions, R, base):
    """x [B, T, H, Dh]: the first R dims of each head rotated in (i, i + R/2) pairs, the rest unchanged
    (TransformerLens's apply_rotary, GPT-NeoX's rotate-half convention)."""
    dtype = x.dtype
    inv = 1.0 / (base ** (torch.arange(0, R, 2, dtype=dtype) / R))  # [R/2]
    ang = positions.to(dtype)[:, None] * inv[None, :]  # [T, R/2]
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]  # [1, T, 1, R/2]
    x1, x2, rest = x[..., : R // 2], x[..., R // 2 : R], x[..., R:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest), dim=-1)


def forward(cfg, w, ids, dtype, parallel, embed_leaf=False):
    """TL-style forward that records every hook. Returns (logits, hooks, embed)."""
    W = {k: v.to(dtype) for k, v in w.items()}
    hooks = {}
    B, T = ids.shape
    H, Dh = cfg.n_heads, cfg.d_head
    positions = torch.arange(T)
    embed = W["embed_in.weight"][ids]
    if embed_leaf:
        embed = embed.detach().clone().requires_grad_(True)
    hooks["hook_embed"] = embed
    resid = embed
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))

    def lin(x, name):
        y = x @ W[f"{name}.weight"].T  # torch Linear: [out, in]
        return y + W[f"{name}.bias"] if f"{name}.bias" in W else y

    for L in range(cfg.n_layers):
        p = f"layers.{L}"
        b = f"blocks.{L}"
        hooks[f"{b}.hook_resid_pre"] = resid
        ln1_w, ln1_b = W[f"{p}.input_layernorm.weight"], W[f"{p}.input_layernorm.bias"]
        ln1 = layer_norm_tl(resid, ln1_w, ln1_b, cfg.eps, hooks, f"{b}.ln1")
        # query_key_value rows are grouped [head, (q, k, v), Dh]
        qkv = lin(ln1, f"{p}.attention.query_key_value").reshape(B, T, H, 3, Dh)
        q, k, v = qkv[:, :, :, 0], qkv[:, :, :, 1], qkv[:, :, :, 2]
        hooks[f"{b}.attn.hook_q"] = q
        hooks[f"{b}.attn.hook_k"] = k
        hooks[f"{b}.attn.hook_v"] = v
        q = rotary_tl(q, positions, cfg.rotary, cfg.base)
        k = rotary_tl(k, positions, cfg.rotary, cfg.base)
        hooks[f"{b}.attn.hook_rot_q"] = q
        hooks[f"{b}.attn.hook_rot_k"] = k
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(Dh)
        scores = scores.masked_fill(~causal, float("-inf"))  # TL: IGNORE = -inf; HF: finfo.min (same softmax)
        hooks[f"{b}.attn.hook_attn_scores"] = scores
        pattern = torch.softmax(scores, dim=-1)
        hooks[f"{b}.attn.hook_pattern"] = pattern
        z = torch.einsum("bhqk,bkhd->bqhd", pattern, v)
        hooks[f"{b}.attn.hook_z"] = z
        attn_out = lin(z.reshape(B, T, H * Dh), f"{p}.attention.dense")
        hooks[f"{b}.hook_attn_out"] = attn_out
        if parallel:
            mlp_in = resid  # TL has no hook_resid_mid here: the sum is never formed
        else:
            mlp_in = resid + attn_out
            hooks[f"{b}.hook_resid_mid"] = mlp_in
        ln2_w, ln2_b = W[f"{p}.post_attention_layernorm.weight"], W[f"{p}.post_attention_layernorm.bias"]
        ln2 = layer_norm_tl(mlp_in, ln2_w, ln2_b, cfg.eps, hooks, f"{b}.ln2")
        pre = lin(ln2, f"{p}.mlp.dense_h_to_4h")
        hooks[f"{b}.mlp.hook_pre"] = pre
        post = ACT[cfg.act](pre)
        hooks[f"{b}.mlp.hook_post"] = post
        mlp_out = lin(post, f"{p}.mlp.dense_4h_to_h")
        hooks[f"{b}.hook_mlp_out"] = mlp_out
        resid = (resid + attn_out + mlp_out) if parallel else (mlp_in + mlp_out)
        hooks[f"{b}.hook_resid_post"] = resid
    x = layer_norm_tl(resid, W["final_layer_norm.weight"], W["final_layer_norm.bias"], cfg.eps, hooks, "ln_final")
    unembed = W["embed_in.weight"] if cfg.tie or "embed_out.weight" not in W else W["embed_out.weight"]
    logits = x @ unembed.T
    return logits, hooks, embed


def forward_hf(cfg, w, ids, dtype, parallel):
    """A second, literal transcription of HF GPTNeoXForCausalLM (eager attention: F.layer_norm, F.linear,
    qkv.view(B, T, H, 3·Dh), GPTNeoXRotaryEmbedding's cat(freqs, freqs) cache with rotate_half, baddbmm with
    norm_factor, finfo.min mask, F.gelu) used only to cross-check the hooked forward above."""
    W = {k: v.to(dtype) for k, v in w.items()}
    B, T = ids.shape
    H, Dh, R = cfg.n_heads, cfg.d_head, cfg.rotary
    position_ids = torch.arange(T).unsqueeze(0)
    inv_freq = 1.0 / (cfg.base ** (torch.arange(0, R, 2, dtype=torch.int64).to(dtype) / R))
    freqs = torch.outer(torch.arange(T, dtype=torch.int64).to(dtype), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos_cached, sin_cached = emb.cos(), emb.sin()
    bias = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
    norm_factor = Dh**-0.5

    def linear(x, name):
        return F.linear(x, W[f"{name}.weight"], W.get(f"{name}.bias"))

    def attention(hidden, p):
        qkv = linear(hidden, f"{p}.attention.query_key_value")
        qkv = qkv.view(*(qkv.size()[:-1] + (H, 3 * Dh)))
        query = qkv[..., :Dh].permute(0, 2, 1, 3)
        key = qkv[..., Dh : 2 * Dh].permute(0, 2, 1, 3)
        value = qkv[..., 2 * Dh :].permute(0, 2, 1, 3)
        cos = cos_cached[position_ids].unsqueeze(1)
        sin = sin_cached[position_ids].unsqueeze(1)
        q_rot, q_pass = query[..., :R], query[..., R:]
        k_rot, k_pass = key[..., :R], key[..., R:]
        query = torch.cat(((q_rot * cos) + (rotate_half(q_rot) * sin), q_pass), dim=-1)
        key = torch.cat(((k_rot * cos) + (rotate_half(k_rot) * sin), k_pass), dim=-1)
        scores = torch.zeros(B * H, T, T, dtype=dtype)
        scores = torch.baddbmm(
            scores, query.reshape(B * H, T, Dh), key.reshape(B * H, T, Dh).transpose(1, 2), beta=1.0, alpha=norm_factor
        ).view(B, H, T, T)
        scores = torch.where(bias, scores, torch.tensor(torch.finfo(dtype).min, dtype=dtype))
        weights = F.softmax(scores, dim=-1)
        out = torch.matmul(weights, value).permute(0, 2, 1, 3).contiguous().view(B, T, H * Dh)
        return linear(out, f"{p}.attention.dense")

    act = F.gelu if cfg.act == "gelu" else ACT[cfg.act]  # ACT2FN["gelu"] is GELUActivation: F.gelu

    def mlp(hidden, p):
        return linear(act(linear(hidden, f"{p}.mlp.dense_h_to_4h")), f"{p}.mlp.dense_4h_to_h")

    def ln(x, name):
        return F.layer_norm(x, (cfg.d,), W[f"{name}.weight"], W[f"{name}.bias"], cfg.eps)

    h = F.embedding(ids, W["embed_in.weight"])
    for L in range(cfg.n_layers):
        p = f"layers.{L}"
        attn_output = attention(ln(h, f"{p}.input_layernorm"), p)
        if parallel:
            mlp_output = mlp(ln(h, f"{p}.post_attention_layernorm"), p)
            h = mlp_output + attn_output + h
        else:
            attn_output = attn_output + h
            mlp_output = mlp(ln(attn_output, f"{p}.post_attention_layernorm"), p)
            h = mlp_output + attn_output
    h = ln(h, "final_layer_norm")
    unembed = W["embed_in.weight"] if cfg.tie or "embed_out.weight" not in W else W["embed_out.weight"]
    return F.linear(h, unembed)


def reference(cfg, w, ids, targets):
    """float64 hooks, logits, embedding gradient and loss, cross-checked against the HF transcription."""
    parallel = cfg.parallel
    mode = f"{'parallel' if parallel else 'sequential'}, rotary dims {cfg.rotary}"
    ref = run_decoder_reference(
        lambda dtype, embed_leaf=False: forward(cfg, w, ids, dtype, parallel, embed_leaf),
        lambda dtype: forward_hf(cfg, w, ids, dtype, parallel),
        targets,
        label=f"[{mode}] ",
    )
    report(ref, label=f"[{mode}] ")
    return golden_tensors(ref, "grad.hook_embed"), ref.f32_diff


def main():
    folder, out_path, config = read_args("gpt_neox.py")
    cfg = Config(config)
    # GPTNeoXForCausalLM.save_pretrained writes the body as `gpt_neox.…` and `embed_out.weight` bare
    w = load_weights(folder, "gpt_neox.")
    ids, targets = decoder_inputs(w["embed_in.weight"].shape[0])

    torch.manual_seed(0)
    tensors, f32_diff = reference(cfg, w, ids, targets)
    metadata = {
        "input_ids": compact(INPUT_IDS),
        "targets": compact(TARGETS),
        "reference": provenance("gpt_neox.py"),
        "use_parallel_residual": json.dumps(cfg.parallel),
        "rotary_dim": json.dumps(cfg.rotary),
        "f32_vs_f64_max_abs_logits": repr(f32_diff),
    }
    variants = []
    if cfg.parallel:
        variants.append(("sequential.", {"parallel": False}))
    if cfg.rotary < 4 <= cfg.d_head:
        variants.append(("rotary_dim_4.", {"rotary": 4}))
    for prefix, overrides in variants:
        vcfg = copy.copy(cfg)
        vars(vcfg).update(overrides)
        vt, v_f32_diff = reference(vcfg, w, ids, targets)
        tensors.update({prefix + k: v for k, v in vt.items()})
        metadata[f"{prefix}f32_vs_f64_max_abs_logits"] = repr(v_f32_diff)
    write_golden(out_path, tensors, metadata)


if __name__ == "__main__":
    main()
